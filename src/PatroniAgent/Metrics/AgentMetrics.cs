using System.Globalization;
using System.Text;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Server;
using PatroniAgent.Watcher;

namespace PatroniAgent.Metrics;

/// <summary>
/// Reads the agent's counters when scraped and writes them as Prometheus text (exposition format
/// 0.0.4) or as the JSON status page. Nothing here runs on the check path: the checks only increment
/// preallocated counters, and every string is built here, per scrape.
/// </summary>
public sealed class AgentMetrics(AnswerBoard board, RoleWatcher watcher, AgentServer server, string version)
{
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

        Header(text, "patroni_agent_answer", "gauge", "1 for the answer kind each mode gets now (without max-lag), 0 for the others.");
        foreach (var mode in ModeNames.All)
        {
            var current = board.CurrentAnswer(mode).Kind;
            foreach (var kind in AnswerKinds.All)
            {
                if (kind != AnswerKind.Error)
                {
                    Sample(text, "patroni_agent_answer", $"mode=\"{ModeNames.Name(mode)}\",answer=\"{AnswerKinds.Name(kind)}\"", kind == current ? 1 : 0);
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

        Header(text, "patroni_agent_last_good_poll_age_seconds", "gauge", "Seconds since the last poll that gave a usable status was sent, as stale-after counts them (since the start before the first).");
        Sample(text, "patroni_agent_last_good_poll_age_seconds", null, watcher.Polls.SinceLastGood.TotalSeconds);

        Header(text, "patroni_agent_lag_polls_total", "counter", "Good polls that measured a replica's lag, by what it was measured against: the leader's own current position (leader) or the local Patroni's GET /cluster (cluster).");
        foreach (var source in PollMetrics.LagSources)
        {
            Sample(text, "patroni_agent_lag_polls_total", $"source=\"{PollMetrics.SourceName(source)}\"", watcher.Polls.LagPolls(source));
        }

        if (watcher.Polls.LagReferenceAge is { } lagAge)
        {
            Header(text, "patroni_agent_lag_reference_age_seconds", "gauge", "How old the position the last measured lag was measured against was, at the end of that poll.");
            Sample(text, "patroni_agent_lag_reference_age_seconds", null, lagAge.TotalSeconds);
        }

        Header(text, "patroni_agent_open_connections", "gauge", "Connections held open waiting for their request.");
        Sample(text, "patroni_agent_open_connections", null, server.Held);

        Header(text, "patroni_agent_evicted_connections_total", "counter", "Held connections answered early to make room once max-connections were held.");
        Sample(text, "patroni_agent_evicted_connections_total", null, server.Evicted);

        Header(text, "patroni_agent_refused_connections_total", "counter", "Connections reset unanswered because their source is not in the allow list.");
        Sample(text, "patroni_agent_refused_connections_total", null, server.Refused);
        return text.ToString();
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
            LagReferenceAgeSeconds = watcher.Polls.LagReferenceAge is { } age ? Math.Round(age.TotalSeconds, 3) : null,
            ChecksAnswered = server.Answered,
            OpenConnections = server.Held,
            EvictedConnections = server.Evicted,
            RefusedConnections = server.Refused,
            Transitions = transitions,
            Override = watcher.Override?.ToString(),
        };
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder text, string name, string? labels, double value)
    {
        text.Append(name);
        if (labels is not null)
        {
            text.Append('{').Append(labels).Append('}');
        }
        text.Append(' ').Append(Number(value)).Append('\n');
    }

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Escapes a label value as the text format requires: backslash, double quote and newline.</summary>
    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
