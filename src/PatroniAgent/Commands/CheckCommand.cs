using Microsoft.Extensions.Logging.Abstractions;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Configuration;
using PatroniAgent.Control;
using PatroniAgent.Hosting;
using PatroniAgent.Watcher;

namespace PatroniAgent.Commands;

/// <summary>
/// <c>patroni-agent check</c>: polls Patroni once and prints what every mode would answer, with the
/// operator's override from the state file.
/// </summary>
public static class CheckCommand
{
    /// <summary>Returns 0 when Patroni answered, 1 when it did not (the unknown answers are printed then).</summary>
    public static int Run(AgentOptions options, TextWriter output)
    {
        var (client, board, watcher) = PollPath.Build(options, TimeSpan.Zero, NullLogger.Instance);
        var stored = OverrideFile.Read(options.StateFile, out string? problem);
        watcher.SetOverride(stored);
        bool answered = watcher.PollOnce(CancellationToken.None);
        var snapshot = board.Current;
        output.WriteLine($"patroni {client.BaseUrl}: {RoleWatcher.Summary(snapshot)}");
        if (snapshot.Status?.LagBytes is { } lag)
        {
            output.WriteLine($"lag: {lag} bytes");
        }
        output.WriteLine(stored is null ? "override: none" : $"override: {stored.Word}, answers say \"#{stored.AnswerReason}\" where they would be ready ({options.StateFile})");
        if (problem is not null)
        {
            output.WriteLine(problem);
        }
        output.WriteLine();
        foreach (var mode in ModeNames.All)
        {
            output.WriteLine($"{ModeNames.Name(mode),-15} {snapshot.LineOf(mode)}");
        }
        return answered ? 0 : 1;
    }
}
