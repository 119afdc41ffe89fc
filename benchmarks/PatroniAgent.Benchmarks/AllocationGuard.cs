using PatroniAgent.AgentProtocol;
using PatroniAgent.Answers;

namespace PatroniAgent.Benchmarks;

/// <summary>
/// The deterministic CI check behind <c>--check-allocations</c>: runs the check path a million times
/// per agent-send line and fails when the thread's allocated-bytes counter or the GC count moves.
/// </summary>
public static class AllocationGuard
{
    private const int Warmup = 20_000;
    private const int Calls = 1_000_000;

    private static readonly (string Name, byte[] Line)[] Lines =
    [
        ("no agent-send", []),
        ("primary\\n", "primary\n"u8.ToArray()),
        ("replica max-lag=16MB\\n", "replica max-lag=16MB\n"u8.ToArray()),
        ("READ-ONLY\\r\\n", "READ-ONLY\r\n"u8.ToArray()),
        ("bogus\\n", "bogus\n"u8.ToArray()),
        ("300 bytes, no line end", Enumerable.Repeat((byte)'x', 300).ToArray()),
    ];

    /// <summary>Prints one row per line and returns the exit code: 0 when nothing allocated, 1 otherwise.</summary>
    public static int Run(TextWriter output)
    {
        var board = AnswerBenchmarks.PrimaryBoard();
        var sendBuffer = new byte[512];
        int failures = 0;
        output.WriteLine($"check path, {Calls:N0} calls per line after {Warmup:N0} warm-up calls");
        output.WriteLine($"{"agent-send",-26} {"answer",-40} {"bytes/call",10} {"gen0 GCs",8}");
        foreach (var (name, line) in Lines)
        {
            Loop(board, line, sendBuffer, Warmup);
            long bytesBefore = GC.GetAllocatedBytesForCurrentThread();
            int gcsBefore = GC.CollectionCount(0);
            int length = Loop(board, line, sendBuffer, Calls);
            long bytes = GC.GetAllocatedBytesForCurrentThread() - bytesBefore;
            int gcs = GC.CollectionCount(0) - gcsBefore;
            var answer = System.Text.Encoding.ASCII.GetString(sendBuffer, 0, length).TrimEnd('\n');
            output.WriteLine($"{name,-26} {Shorten(answer, 40),-40} {(double)bytes / Calls,10:0.###} {gcs,8}");
            if (bytes != 0 || gcs != 0)
            {
                failures++;
            }
        }
        long parseBefore = GC.GetAllocatedBytesForCurrentThread();
        foreach (var (_, line) in Lines)
        {
            for (int i = 0; i < Calls / 10; i++)
            {
                AgentSendParser.Parse(line, AgentRequest.For(Mode.Primary));
            }
        }
        long parseBytes = GC.GetAllocatedBytesForCurrentThread() - parseBefore;
        output.WriteLine($"AgentSendParser.Parse alone, {Lines.Length * (Calls / 10):N0} calls: {parseBytes} bytes");
        if (parseBytes != 0)
        {
            failures++;
        }
        output.WriteLine(failures == 0 ? "allocations: none (pass)" : $"allocations: {failures} row(s) allocated (FAIL)");
        return failures == 0 ? 0 : 1;
    }

    private static int Loop(AnswerBoard board, byte[] line, byte[] sendBuffer, int calls)
    {
        int length = 0;
        for (int i = 0; i < calls; i++)
        {
            var answer = board.Answer(AgentRequest.For(Mode.Primary), line);
            answer.CopyTo(sendBuffer);
            length = answer.Length;
        }
        return length;
    }

    private static string Shorten(string text, int width) => text.Length <= width ? text : text[..(width - 3)] + "...";
}
