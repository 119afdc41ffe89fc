namespace PatroniAgent.AgentProtocol;

/// <summary>What a check asks: may this node take the traffic of this kind of backend?</summary>
public enum Mode
{
    /// <summary>Read-write: only the running primary that holds the leader lock.</summary>
    Primary,
    /// <summary>A running replica that is not tagged noloadbalance and, with max-lag, lags no more than that.</summary>
    Replica,
    /// <summary>The replica rule, or the running leader (primary or standby leader).</summary>
    ReadOnly,
    /// <summary>The replica rule, and a synchronous standby (<c>sync_standby</c>).</summary>
    Sync,
    /// <summary>The replica rule, and neither a synchronous nor a quorum standby.</summary>
    Async,
    /// <summary>The running leader of a standby cluster.</summary>
    StandbyLeader,
    /// <summary>The running leader: the primary with the lock, or a standby leader.</summary>
    Leader,
    /// <summary>Any running member.</summary>
    Health,
    /// <summary>The running leader, or the <see cref="Sync"/> rule.</summary>
    ReadOnlySync,
    /// <summary>The replica rule, and a quorum standby (<c>quorum_standby</c>, Patroni 4).</summary>
    Quorum,
    /// <summary>The running leader, or the <see cref="Quorum"/> rule.</summary>
    ReadOnlyQuorum,
    /// <summary>Patroni answers: any member whose Patroni answered the last poll, PostgreSQL running or not.</summary>
    Liveness,
    /// <summary>The leader, or a running replica that streams and lags no more than the limit (1 MB unless given).</summary>
    Readiness,
}

/// <summary>The words that name a mode, in configuration and in agent-send lines.</summary>
public static class ModeNames
{
    public static readonly Mode[] All = Enum.GetValues<Mode>();

    /// <summary>The canonical name of each mode, as printed.</summary>
    public static string Name(Mode mode) => mode switch
    {
        Mode.Primary => "primary",
        Mode.Replica => "replica",
        Mode.ReadOnly => "read-only",
        Mode.Sync => "sync",
        Mode.Async => "async",
        Mode.StandbyLeader => "standby-leader",
        Mode.Leader => "leader",
        Mode.Health => "health",
        Mode.ReadOnlySync => "read-only-sync",
        Mode.Quorum => "quorum",
        Mode.ReadOnlyQuorum => "read-only-quorum",
        Mode.Liveness => "liveness",
        Mode.Readiness => "readiness",
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    /// <summary>Every accepted word and the mode it names; matched case-insensitively.</summary>
    internal static readonly (byte[] Word, Mode Mode)[] Words =
    [
        ("primary"u8.ToArray(), Mode.Primary),
        ("master"u8.ToArray(), Mode.Primary),
        ("read-write"u8.ToArray(), Mode.Primary),
        ("rw"u8.ToArray(), Mode.Primary),
        ("replica"u8.ToArray(), Mode.Replica),
        ("read-only"u8.ToArray(), Mode.ReadOnly),
        ("ro"u8.ToArray(), Mode.ReadOnly),
        ("sync"u8.ToArray(), Mode.Sync),
        ("async"u8.ToArray(), Mode.Async),
        ("standby-leader"u8.ToArray(), Mode.StandbyLeader),
        ("leader"u8.ToArray(), Mode.Leader),
        ("health"u8.ToArray(), Mode.Health),
        ("read-only-sync"u8.ToArray(), Mode.ReadOnlySync),
        ("read-only-synchronous"u8.ToArray(), Mode.ReadOnlySync),
        ("synchronous"u8.ToArray(), Mode.Sync),
        ("asynchronous"u8.ToArray(), Mode.Async),
        ("standby_leader"u8.ToArray(), Mode.StandbyLeader),
        ("quorum"u8.ToArray(), Mode.Quorum),
        ("read-only-quorum"u8.ToArray(), Mode.ReadOnlyQuorum),
        ("liveness"u8.ToArray(), Mode.Liveness),
        ("readiness"u8.ToArray(), Mode.Readiness),
    ];

    public static bool TryParse(ReadOnlySpan<byte> word, out Mode mode)
    {
        foreach (var (w, m) in Words)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(word, w))
            {
                mode = m;
                return true;
            }
        }
        mode = default;
        return false;
    }

    public static bool TryParse(string word, out Mode mode)
    {
        Span<byte> buffer = stackalloc byte[32];
        if (word.Length > buffer.Length || !System.Text.Ascii.IsValid(word))
        {
            mode = default;
            return false;
        }
        int n = System.Text.Encoding.ASCII.GetBytes(word, buffer);
        return TryParse(buffer[..n], out mode);
    }

    /// <summary>The canonical names, short enough for the reason of an answer.</summary>
    public static string Canonical => string.Join(", ", All.Select(Name));

    /// <summary>The accepted words, for help and error messages.</summary>
    public static string Accepted =>
        "primary (master, read-write, rw), replica, read-only (ro), sync (synchronous), async (asynchronous), standby-leader (standby_leader), leader, health, read-only-sync (read-only-synchronous), quorum, read-only-quorum, liveness, readiness";
}
