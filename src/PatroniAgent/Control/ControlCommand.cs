using PatroniAgent.Configuration;
using PatroniAgent.Policy;

namespace PatroniAgent.Control;

/// <summary>
/// <c>patroni-agent notify</c>, <c>drain</c>, <c>maint</c> and <c>ready</c>: the commands that talk to
/// the running agent through its control socket.
/// </summary>
public static class ControlCommand
{
    /// <summary>
    /// Tells the running agent that a role change is under way: it polls Patroni at once and closely
    /// through the change (<see cref="Watcher.RoleWatcher.RoleChanging"/>). Always returns 0, quickly: as Patroni's
    /// on_role_change callback it must not hold Patroni up, and an agent that is not running polls
    /// Patroni as soon as it starts anyway. A failure is only reported on <paramref name="error"/>.
    /// </summary>
    public static int Notify(AgentOptions options, TextWriter error)
    {
        if (!ControlClient.TrySend(options.ControlSocket, "poll", out string reply, out string problem))
        {
            error.WriteLine($"patroni-agent: notify: cannot reach the agent at {options.ControlSocket}: {problem}; it polls Patroni on its own");
        }
        else if (!reply.StartsWith("ok", StringComparison.Ordinal))
        {
            error.WriteLine($"patroni-agent: notify: the agent refused: {reply}");
        }
        return 0;
    }

    /// <summary>The callbacks of Patroni that <see cref="Callbacks"/> wires to notify.</summary>
    public static readonly string[] PatroniCallbacks = ["on_role_change", "on_stop", "on_start", "on_restart"];

    /// <summary>
    /// Prints the lines of patroni.yml that make Patroni run <c>notify</c> (this binary, with the instance,
    /// and the control socket when it is not the instance's default) as each of <see cref="PatroniCallbacks"/>: promotion, demotion, a
    /// stop, start or restart of PostgreSQL then reach HAProxy at the next agent check instead of the next poll.
    /// </summary>
    public static int Callbacks(AgentOptions options, string binary, TextWriter output)
    {
        string command = binary + " notify";
        if (options.Instance is { } instance)
        {
            command += " --instance " + instance;
        }
        if (options.ControlSocket != AgentOptions.ForInstance(options.Instance).ControlSocket)
        {
            command += " --control-socket " + options.ControlSocket;
        }
        output.WriteLine("# patroni-agent: merge into the postgresql: section of patroni.yml, then reload Patroni.");
        output.WriteLine($"# Patroni's user (postgres) must be able to use {options.ControlSocket}: the packages add it to");
        output.WriteLine("# the patroni-agent group (usermod -aG patroni-agent postgres; restart Patroni after that).");
        output.WriteLine("postgresql:");
        output.WriteLine("  callbacks:");
        foreach (string callback in PatroniCallbacks)
        {
            output.WriteLine($"    {callback}: {command}");
        }
        return 0;
    }

    /// <summary>
    /// Stores the override (<paramref name="applied"/>, drain or maint, or null for ready to clear it) in
    /// the state file, then tells the running agent. Returns 0 when stored (the agent not running is said
    /// on <paramref name="error"/>), 1 when the state file cannot be written or the agent refused.
    /// With <paramref name="wait"/>, the agent replies once every checker it saw in the recent window has
    /// been answered with the change, or when <paramref name="wait"/> is over: 0 and who heard it, or 1 and
    /// who did not; an agent that cannot be reached is 1 too.
    /// </summary>
    public static int SetOverride(AgentOptions options, OperatorOverride? applied, TextWriter output, TextWriter error, TimeSpan? wait = null)
    {
        string name = applied?.Word ?? "ready";
        try
        {
            OverrideFile.Write(options.StateFile, applied);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string why = e is UnauthorizedAccessException ? "permission denied (run it as root)" : e.Message;
            error.WriteLine($"patroni-agent: {name}: cannot write the state file {options.StateFile}: {why}; nothing changed");
            return 1;
        }
        string request = applied is null ? "override ready" : $"override {applied}";
        string done = applied is null ? "override cleared" : $"override {applied.Word} set, answers say \"#{applied.AnswerReason}\"";
        if (wait is { } limit)
        {
            request = $"wait {(long)limit.TotalMilliseconds} {request}";
        }
        if (!ControlClient.TrySend(options.ControlSocket, request, out string reply, out string problem, wait + ControlClient.Timeout))
        {
            error.WriteLine($"patroni-agent: {name}: {done} in {options.StateFile}, but cannot reach the agent at {options.ControlSocket}: {problem}; it applies when the agent starts");
            return wait is null ? 0 : 1;
        }
        if (reply.StartsWith("timeout ", StringComparison.Ordinal))
        {
            error.WriteLine($"patroni-agent: {name}: {done}, but not every checker heard it within {wait!.Value.TotalSeconds:0.###} s: {reply["timeout ".Length..]}");
            return 1;
        }
        if (!reply.StartsWith("ok", StringComparison.Ordinal))
        {
            error.WriteLine($"patroni-agent: {name}: stored in {options.StateFile}, but the agent refused: {reply}");
            return 1;
        }
        output.WriteLine(wait is null
            ? $"patroni-agent: {done}; the running agent answers it now"
            : $"patroni-agent: {done}; {reply["ok ".Length..]}");
        return 0;
    }
}
