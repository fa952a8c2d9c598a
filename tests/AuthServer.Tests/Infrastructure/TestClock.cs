namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// Real time plus a settable offset: timestamps keep moving forward between requests (reuse-interval
/// and ordering logic sees distinct instants) and a test can jump ahead with <see cref="Advance"/>.
/// </summary>
public sealed class TestClock : TimeProvider
{
    long offsetTicks;

    public override DateTimeOffset GetUtcNow() => DateTimeOffset.UtcNow.AddTicks(Interlocked.Read(ref offsetTicks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref offsetTicks, by.Ticks);
}
