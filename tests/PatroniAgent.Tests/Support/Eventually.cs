using System.Diagnostics;

namespace PatroniAgent.Tests.Support;

/// <summary>Waiting in tests for what happens on another thread or in another process.</summary>
public static class Eventually
{
    private static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Returns once <paramref name="condition"/> holds, asking every <paramref name="interval"/> (10 ms unless given);
    /// fails the test with <paramref name="failure"/> when it still does not after <paramref name="timeout"/>.
    /// </summary>
    public static async Task WaitFor(Func<bool> condition, TimeSpan timeout, Func<string>? failure = null, TimeSpan? interval = null)
    {
        var elapsed = Stopwatch.StartNew();
        while (!condition())
        {
            Fail(elapsed, timeout, failure);
            await Task.Delay(interval ?? DefaultInterval);
        }
    }

    /// <summary>As <see cref="WaitFor(Func{bool}, TimeSpan, Func{string}?, TimeSpan?)"/>, for a condition that is awaited.</summary>
    public static async Task WaitFor(Func<Task<bool>> condition, TimeSpan timeout, Func<string>? failure = null, TimeSpan? interval = null)
    {
        var elapsed = Stopwatch.StartNew();
        while (!await condition())
        {
            Fail(elapsed, timeout, failure);
            await Task.Delay(interval ?? DefaultInterval);
        }
    }

    /// <summary>As <see cref="WaitFor(Func{bool}, TimeSpan, Func{string}?, TimeSpan?)"/>, blocking the calling thread.</summary>
    public static void Until(Func<bool> condition, TimeSpan timeout, Func<string>? failure = null, TimeSpan? interval = null)
    {
        var elapsed = Stopwatch.StartNew();
        while (!condition())
        {
            Fail(elapsed, timeout, failure);
            Thread.Sleep(interval ?? DefaultInterval);
        }
    }

    private static void Fail(Stopwatch elapsed, TimeSpan timeout, Func<string>? failure)
    {
        if (elapsed.Elapsed >= timeout)
        {
            Assert.Fail(failure?.Invoke() ?? $"condition not met within {timeout}");
        }
    }
}
