using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;
using PatroniAgent.Patroni;
using PatroniAgent.Server;

namespace PatroniAgent.LoadTest;

/// <summary>What the in-process measurement of the check path found.</summary>
internal sealed record AllocationResult(LoadResult Load, long ServerBytes, long ProcessBytes, int Gen0Collections, int Gen2Collections)
{
    /// <summary>Bytes allocated by the server's event loop per check.</summary>
    public double ServerBytesPerCheck => Load.Checks == 0 ? double.NaN : (double)ServerBytes / Load.Checks;

    /// <summary>Bytes allocated by the whole process (generator and server) per check.</summary>
    public double ProcessBytesPerCheck => Load.Checks == 0 ? double.NaN : (double)ProcessBytes / Load.Checks;
}

/// <summary>
/// The agent's check path measured from inside: an <see cref="AgentServer"/> answering from an
/// <see cref="AnswerBoard"/> in this process (one event loop, as the agent runs by default), loaded by the
/// allocation-free generator, with the runtime's counters read before and after. The agent has no metrics
/// endpoint, so its allocations cannot be read from outside.
/// </summary>
internal static class InProcessAgent
{
    /// <summary>The answer board of the agent for <paramref name="recording"/>, fresh for a day.</summary>
    public static AnswerBoard Board(PatroniRecording recording)
    {
        var board = new AnswerBoard("down", TimeSpan.FromDays(1));
        board.PublishFresh(Snapshot.FromStatus(PatroniDecoder.DecodeStatus(recording.Status, recording.Body, out _), UnknownAnswer.Default));
        return board;
    }

    public static AllocationResult Measure(PatroniRecording recording, LoadShape shape, int threads, long checks, TimeSpan warmup, TimeSpan limit)
    {
        var listener = new ListenerOptions(new IPEndPoint(IPAddress.Loopback, 0), Board(recording).For(AgentRequest.For(Mode.Primary)), TimeSpan.FromMilliseconds(20)) { ResetAfterReply = true };
        using var server = new AgentServer([listener], new AgentServerOptions(), NullLogger.Instance);
        server.Start();
        using var target = new Loopback(server.EndPoints[0]);
        long serverBytes = 0, processBytes = 0;
        int gen0 = 0, gen2 = 0;
        var load = LoadRun.Run("agent, in process", target, shape, threads, warmup, limit, null, checks, () =>
        {
            // A collection now gives the window a whole gen0 budget: the few kilobytes the generator and the
            // runtime allocate meanwhile cannot then cause one, and a gen0 GC counted below means the checks
            // allocated. Without it, where the budget stood after the set-up decided whether one fell inside.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            serverBytes = -server.AllocatedBytes;
            processBytes = -GC.GetTotalAllocatedBytes(precise: true);
            gen0 = -GC.CollectionCount(0);
            gen2 = -GC.CollectionCount(2);
        }, () =>
        {
            // The event loop publishes its counter at the end of each turn: let it finish the turn of the last check.
            Thread.Sleep(50);
            serverBytes += server.AllocatedBytes;
            processBytes += GC.GetTotalAllocatedBytes(precise: true);
            gen0 += GC.CollectionCount(0);
            gen2 += GC.CollectionCount(2);
        });
        return new AllocationResult(load, serverBytes, processBytes, gen0, gen2);
    }
}
