using System.Diagnostics;

namespace PatroniAgent.Tests.Support;

/// <summary>Waiting in tests for what happens on another thread or in another process.</summary>
public static class Eventually
{
    /// <summary>Returns once <paramref name="condition"/> holds; fails the test when it still does not after <paramref name="timeout"/>.</summary>
    public static async Task WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var elapsed = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(elapsed.Elapsed < timeout, $"condition not met within {timeout}");
            await Task.Delay(10);
        }
    }
}
