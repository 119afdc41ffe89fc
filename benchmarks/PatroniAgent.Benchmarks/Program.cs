using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace PatroniAgent.Benchmarks;

/// <summary>
/// <c>--check-allocations</c> runs <see cref="AllocationGuard"/>; anything else goes to BenchmarkDotNet
/// (e.g. <c>--filter '*' --job short</c>). The exit code is 1 when a benchmark failed or a check-path
/// benchmark (<see cref="AnswerBenchmarks"/>, <see cref="ParserBenchmarks"/>) allocated.
/// </summary>
public static class Program
{
    private static readonly Type[] CheckPath = [typeof(AnswerBenchmarks), typeof(ParserBenchmarks)];

    public static int Main(string[] args)
    {
        if (args is ["--check-allocations"])
        {
            return AllocationGuard.Run(Console.Out);
        }
        var reports = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args).SelectMany(s => s.Reports).ToList();
        var failed = reports.Where(r => !r.Success).Select(r => $"{r.BenchmarkCase.DisplayInfo}: failed").ToList();
        failed.AddRange(reports.Where(Allocates).Select(r => $"{r.BenchmarkCase.DisplayInfo}: allocates {r.GcStats.GetBytesAllocatedPerOperation(r.BenchmarkCase)} B/op on the check path"));
        foreach (var failure in failed)
        {
            Console.Error.WriteLine(failure);
        }
        return failed.Count == 0 ? 0 : 1;
    }

    private static bool Allocates(BenchmarkReport report) =>
        report.Success && CheckPath.Contains(report.BenchmarkCase.Descriptor.Type) && report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase) is > 0;
}
