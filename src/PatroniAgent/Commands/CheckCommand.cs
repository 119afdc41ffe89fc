using Microsoft.Extensions.Logging.Abstractions;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Configuration;
using PatroniAgent.Control;
using PatroniAgent.Hosting;
using PatroniAgent.Watcher;

namespace PatroniAgent.Commands;

/// <summary>
/// <c>patroni-agent check</c>: polls Patroni once and prints what every mode would answer, with the
/// operator's override from the state file, then who the running agent is heard by (its control socket).
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
        output.WriteLine();
        WriteHeardBy(options, output);
        return answered ? 0 : 1;
    }

    /// <summary>The "heard by" section: the running agent's checkers, or why it cannot be asked.</summary>
    private static void WriteHeardBy(AgentOptions options, TextWriter output)
    {
        if (!ControlClient.TrySend(options.ControlSocket, "checkers", out string reply, out string problem))
        {
            output.WriteLine($"heard by: cannot ask the running agent at {options.ControlSocket}: {problem}");
            return;
        }
        var lines = reply.Split('\n');
        if (!lines[0].StartsWith("ok ", StringComparison.Ordinal))
        {
            output.WriteLine($"heard by: the running agent refused: {reply}");
            return;
        }
        output.WriteLine(lines.Length == 1 ? "heard by: no checker yet (the running agent's table)" : "heard by (the running agent's checkers, the most recent first):");
        foreach (string line in lines.Skip(1))
        {
            output.WriteLine("  " + line);
        }
    }
}
