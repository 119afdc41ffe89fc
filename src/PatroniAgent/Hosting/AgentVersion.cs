using System.Reflection;

namespace PatroniAgent.Hosting;

/// <summary>The version of this build, as <c>--version</c>, the man page and the metrics show it.</summary>
public static class AgentVersion
{
    public static string Text { get; } =
        typeof(AgentVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "unknown";
}
