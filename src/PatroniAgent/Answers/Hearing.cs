namespace PatroniAgent.Answers;

/// <summary>
/// Whether the checkers have heard a generation of the answers: the checkers seen in the recent window
/// before the change (<see cref="Checkers.RecentWindow"/>) are expected to hear it; one that first checks
/// after the change hears it at that check. A pure function of a copy of the table.
/// </summary>
public sealed record Hearing(IReadOnlyList<Checker> Expected, IReadOnlyList<Checker> Heard, IReadOnlyList<Checker> Missing, long LastHeardAt)
{
    /// <summary>Whether every expected checker has heard.</summary>
    public bool Complete => Missing.Count == 0;

    /// <summary>
    /// Who of <paramref name="checkers"/> has heard <paramref name="generation"/>, published at the timestamp
    /// <paramref name="changedAt"/>; <paramref name="window"/> is the recent window in timestamp units.
    /// <see cref="LastHeardAt"/> is when the last of them heard it (<paramref name="changedAt"/> when none did).
    /// </summary>
    public static Hearing Of(IEnumerable<Checker> checkers, long generation, long changedAt, long window)
    {
        var expected = checkers.Where(c => c.LastCheck >= changedAt - window).ToList();
        var heard = expected.Where(c => c.Generation >= generation).ToList();
        var missing = expected.Where(c => c.Generation < generation).ToList();
        long last = heard.Count == 0 ? changedAt : Math.Max(changedAt, heard.Max(c => c.HeardSince));
        return new Hearing(expected, heard, missing, last);
    }
}
