using PatroniAgent.Patroni;

namespace PatroniAgent.Tests.Support;

/// <summary>Hand-built <see cref="NodeStatus"/> values for tests that need no recorded answer.</summary>
public static class Statuses
{
    /// <summary>A running primary holding the leader lock on timeline 1.</summary>
    public static readonly NodeStatus LeaderPrimary = new()
    {
        HttpStatus = 200, Role = PatroniRole.Primary, RoleName = "primary", State = "running", Timeline = 1, LagBytes = 0,
    };

    /// <summary>A running member on timeline 7: a primary lags 0 bytes, any other role 2048.</summary>
    public static NodeStatus Running(PatroniRole role, string name, int http = 503) => new()
    {
        HttpStatus = http,
        Role = role,
        RoleName = name,
        State = "running",
        Timeline = 7,
        LagBytes = role == PatroniRole.Primary ? 0 : 2048,
    };
}
