namespace PatroniAgent.Tests.Support;

/// <summary>
/// Tests that count a thread's allocated bytes with <see cref="GC.GetAllocatedBytesForCurrentThread"/>:
/// they run alone, because a collection caused by another test's allocations in the middle of the count
/// moves the thread's allocation context and adds up to one allocation quantum (8 KB) of bytes it never
/// allocated (CI of 2026-12-07: 7,088 bytes over 100,000 checks that allocate nothing).
/// </summary>
[CollectionDefinition(nameof(AllocationCollection), DisableParallelization = true)]
public sealed class AllocationCollection;
