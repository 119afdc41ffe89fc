using System.Text;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Server;
using PatroniAgent.Watcher;
using static PatroniAgent.Metrics.PrometheusFormat;

namespace PatroniAgent.Metrics;

/// <summary>
/// Reads the agent's counters when scraped and writes them as Prometheus text (exposition format
/// 0.0.4) or as the JSON status page. Nothing here runs on the check path: the checks only increment
/// preallocated counters, and every string is built here, per scrape.
/// </summary>
public sealed class AgentMetrics(AnswerBoard board, RoleWatcher watcher, AgentServer server, string version)
{
    private string _scope = "";
    private string _name = "";

    /// <summary>Whether every checker's address gets series of its own (<c>metrics-checkers = yes</c>); off, the cardinality stays bounded.</summary>
    public bool PerChecker { get; set; }

    /// <summary>The Content-Type of <see cref="WritePrometheus"/>.</summary>
    public const string PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>All metrics in Prometheus text format, each with its HELP and TYPE lines.</summary>
    public string WritePrometheus()
    {
        var text = new StringBuilder(8192);
        Header(text, "patroni_agent_build_info", "gauge", "Always 1; the agent's version is the label.");
        Sample(text, "patroni_agent_build_info", $"version=\"{Escape(version)}\"", 1);

        Header(text, "patroni_agent_checks_total", "counter", "Checks answered, by protocol (agent or http), mode asked and answer kind.");
        foreach (var protocol in new[] { CheckProtocol.Agent, CheckProtocol.Http })
        {
            string protocolName = protocol == CheckProtocol.Agent ? "agent" : "http";
            for (int slot = 0; slot <= CheckCounters.NoMode; slot++)
            {
                foreach (var kind in AnswerKinds.All)
                {
                    long count = board.Checks.Read(protocol, slot, kind);
                    if (count > 0)
                    {
                        Sample(text, "patroni_agent_checks_total",
                            $"protocol=\"{protocolName}\",mode=\"{CheckCounters.ModeLabel(slot)}\",answer=\"{AnswerKinds.Name(kind)}\"", count);
                    }
                }
            }
        }

        if (board.Current.Status is { } status)
        {
            _scope = status.Scope ?? "";
            _name = status.Name ?? "";
        }
        // An empty label is no label to Prometheus: Patroni 3.x gives no name.
        string member = (_scope.Length > 0 ? $"scope=\"{Escape(_scope)}\"," : "") + (_name.Length > 0 ? $"name=\"{Escape(_name)}\"," : "");
        Header(text, "patroni_agent_answer", "gauge", "1 for the answer kind each mode gets now (without max-lag), 0 for the others; scope and name are Patroni's (the last known).");
        foreach (var mode in ModeNames.All)
        {
            var current = board.CurrentAnswer(mode).Kind;
            foreach (var kind in AnswerKinds.All)
            {
                if (kind != AnswerKind.Error)
                {
                    Sample(text, "patroni_agent_answer", $"{member}mode=\"{ModeNames.Name(mode)}\",answer=\"{AnswerKinds.Name(kind)}\"", kind == current ? 1 : 0);
                }
            }
        }

        Header(text, "patroni_agent_answer_transitions_total", "counter", "Changes of a mode's answer kind (e.g. ready to maint), counted when a new status or the unknown answer is published.");
        foreach (var mode in ModeNames.All)
        {
            Sample(text, "patroni_agent_answer_transitions_total", $"mode=\"{ModeNames.Name(mode)}\"", board.Transitions(mode));
        }

        Header(text, "patroni_agent_poll_duration_seconds", "histogram", "Time one poll of the Patroni REST API took, failed polls included.");
        var buckets = watcher.Polls.CumulativeBuckets();
        for (int i = 0; i < buckets.Length; i++)
        {
            string bound = i < PollMetrics.BucketBounds.Length ? Number(PollMetrics.BucketBounds[i]) : "+Inf";
            Sample(text, "patroni_agent_poll_duration_seconds_bucket", $"le=\"{bound}\"", buckets[i]);
        }
        Sample(text, "patroni_agent_poll_duration_seconds_sum", null, watcher.Polls.TotalDuration.TotalSeconds);
        Sample(text, "patroni_agent_poll_duration_seconds_count", null, buckets[^1]);

        Header(text, "patroni_agent_poll_errors_total", "counter", "Failed polls of Patroni, by kind of failure.");
        foreach (var kind in PollMetrics.AllKinds)
        {
            Sample(text, "patroni_agent_poll_errors_total", $"kind=\"{PollMetrics.KindName(kind)}\"", watcher.Polls.Errors(kind));
        }

        Header(text, "patroni_agent_last_good_poll_timestamp_seconds", "gauge", "When the last poll that gave a usable status was sent, as stale-after counts from it, in seconds since the epoch; 0 before the first.");
        Sample(text, "patroni_agent_last_good_poll_timestamp_seconds", null, watcher.Polls.LastGoodAt is { } good ? good.ToUnixTimeMilliseconds() / 1000.0 : 0);

        Header(text, "patroni_agent_lag_polls_total", "counter", "Good polls that measured a replica's lag, by what it was measured against: the leader's own current position (leader) or the local Patroni's GET /cluster (cluster).");
        foreach (var source in PollMetrics.LagSources)
        {
            Sample(text, "patroni_agent_lag_polls_total", $"source=\"{PollMetrics.SourceName(source)}\"", watcher.Polls.LagPolls(source));
        }

        if (watcher.Polls.LagReferenceAt is { } lagAt)
        {
            Header(text, "patroni_agent_lag_reference_timestamp_seconds", "gauge", "When the position the last measured lag was measured against was read, in seconds since the epoch.");
            Sample(text, "patroni_agent_lag_reference_timestamp_seconds", null, lagAt.ToUnixTimeMilliseconds() / 1000.0);
        }

        WriteCheckers(text);

        Header(text, "patroni_agent_open_connections", "gauge", "Connections held open waiting for their request.");
        Sample(text, "patroni_agent_open_connections", null, server.Held);

        Header(text, "patroni_agent_evicted_connections_total", "counter", "Held connections answered early to make room once max-connections were held.");
        Sample(text, "patroni_agent_evicted_connections_total", null, server.Evicted);

        Header(text, "patroni_agent_refused_connections_total", "counter", "Connections reset unanswered because their source is not in the allow list.");
        Sample(text, "patroni_agent_refused_connections_total", null, server.Refused);

        ProcessMetrics.Write(text);
        return text.ToString();
    }

    /// <summary>The checkers seen recently, by the kind of their last answer; per address when <see cref="PerChecker"/> is on.</summary>
    private void WriteCheckers(StringBuilder text)
    {
        var time = board.Time;
        long now = time.GetTimestamp();
        long since = now - Checkers.Window(time);
        var checkers = board.Checkers.Snapshot();
        var recent = checkers.FindAll(c => c.LastCheck >= since);
        Header(text, "patroni_agent_checkers_recent", "gauge", $"Addresses (HAProxy instances or hosts) that checked in the last {Checkers.RecentWindow.TotalSeconds:0} s.");
        Sample(text, "patroni_agent_checkers_recent", null, recent.Count);
        Header(text, "patroni_agent_checkers", "gauge", $"Addresses that checked in the last {Checkers.RecentWindow.TotalSeconds:0} s, by the kind of answer their last check got.");
        foreach (var kind in AnswerKinds.All)
        {
            Sample(text, "patroni_agent_checkers", $"answer=\"{AnswerKinds.Name(kind)}\"", recent.Count(c => c.LastKind == kind));
        }
        if (!PerChecker)
        {
            return;
        }
        double nowUnix = time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
        Header(text, "patroni_agent_checker_checks_total", "counter", "Checks answered per source address (metrics-checkers = yes).");
        foreach (var c in checkers)
        {
            Sample(text, "patroni_agent_checker_checks_total", $"address=\"{c.Address}\"", c.Checks);
        }
        Header(text, "patroni_agent_checker_last_check_timestamp_seconds", "gauge", "When each source address last checked, in seconds since the epoch (metrics-checkers = yes).");
        foreach (var c in checkers)
        {
            Sample(text, "patroni_agent_checker_last_check_timestamp_seconds", $"address=\"{c.Address}\"", Math.Round(nowUnix - time.GetElapsedTime(c.LastCheck, now).TotalSeconds, 3));
        }
    }

    /// <summary>The status page: the summary, what every mode answers now, the last good poll, the last error, the counters.</summary>
    public StatusPage Status()
    {
        var snapshot = board.Current;
        bool stale = board.IsStale;
        var modes = new Dictionary<string, string>();
        var transitions = new Dictionary<string, long>();
        foreach (var mode in ModeNames.All)
        {
            modes[ModeNames.Name(mode)] = board.CurrentAnswer(mode).Line;
            transitions[ModeNames.Name(mode)] = board.Transitions(mode);
        }
        var errors = new Dictionary<string, long>();
        foreach (var kind in PollMetrics.AllKinds)
        {
            errors[PollMetrics.KindName(kind)] = watcher.Polls.Errors(kind);
        }
        var lastError = watcher.Polls.LastError;
        return new StatusPage
        {
            Version = version,
            Summary = stale ? $"stale: {RoleWatcher.Summary(snapshot)}" : RoleWatcher.Summary(snapshot),
            Stale = stale,
            Modes = modes,
            LastGoodPoll = watcher.Polls.LastGoodAt,
            SecondsSinceLastGoodPoll = Math.Round(watcher.Polls.SinceLastGood.TotalSeconds, 3),
            LastError = lastError is null ? null : new StatusError { Message = lastError.Message, Kind = PollMetrics.KindName(lastError.Kind), At = lastError.At },
            Polls = watcher.Polls.CumulativeBuckets()[^1],
            PollErrors = errors,
            LagPolls = PollMetrics.LagSources.ToDictionary(PollMetrics.SourceName, watcher.Polls.LagPolls),
            LagReferenceAt = watcher.Polls.LagReferenceAt,
            Checkers = StatusCheckers(),
            ChecksAnswered = server.Answered,
            OpenConnections = server.Held,
            EvictedConnections = server.Evicted,
            RefusedConnections = server.Refused,
            Transitions = transitions,
            Override = watcher.Override?.ToString(),
        };
    }

    /// <summary>The status page's checkers: those seen recently, the most recent first.</summary>
    private List<StatusChecker> StatusCheckers()
    {
        var time = board.Time;
        long now = time.GetTimestamp();
        var nowUtc = time.GetUtcNow();
        long current = board.Current.Generation;
        DateTimeOffset At(long timestamp) => nowUtc - time.GetElapsedTime(timestamp, now);
        return board.Checkers.Snapshot()
            .Where(c => c.LastCheck >= now - Checkers.Window(time))
            .Select(c => new StatusChecker
            {
                Address = c.Address.ToString(),
                FirstCheck = At(c.FirstCheck),
                LastCheck = At(c.LastCheck),
                Checks = c.Checks,
                LastMode = c.ModeName,
                LastAnswer = AnswerKinds.Name(c.LastKind),
                HasCurrentAnswersSince = c.Generation >= current ? At(c.HeardSince) : null,
            })
            .ToList();
    }
}
