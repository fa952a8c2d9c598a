using AuthServer.Config;
using AuthServer.Security;

namespace AuthServer.Tests.Security;

/// bcrypt runs on the Passwords' own threads, fed by a queue (not on thread-pool threads).
public sealed class PasswordsTests
{
    static Passwords New(int cost = 4, int queueLimit = 0)
    {
        var options = new PasswordOptions { HashCost = cost, HashQueueLimit = queueLimit };
        return new(options, new PwnedPasswords(options, Microsoft.Extensions.Logging.Abstractions.NullLogger<PwnedPasswords>.Instance));
    }

    [Fact]
    public async Task VerifyAsync_MoreConcurrentCallsThanCores_EachGetsItsOwnAnswer()
    {
        using var passwords = New();
        var hash = await passwords.HashAsync("right-password", CancellationToken.None);

        var calls = Enumerable.Range(0, Environment.ProcessorCount * 4)
            .Select(i => passwords.VerifyAsync(i % 2 == 0 ? "right-password" : "wrong-password-" + i, hash, CancellationToken.None))
            .ToList();
        var results = await Task.WhenAll(calls);

        Assert.Equal(Enumerable.Range(0, calls.Count).Select(i => i % 2 == 0), results);
    }

    [Fact]
    public async Task HashAsync_ManyConcurrentCalls_EachHashVerifiesItsOwnPassword()
    {
        using var passwords = New();
        var pw = Enumerable.Range(0, Environment.ProcessorCount * 3).Select(i => "password-" + i).ToList();

        var hashes = await Task.WhenAll(pw.Select(p => passwords.HashAsync(p, CancellationToken.None)));

        Assert.Equal(pw.Count, hashes.Distinct().Count());
        for (var i = 0; i < pw.Count; i++)
        {
            Assert.StartsWith("$2a$04$", hashes[i]);
            Assert.True(await passwords.VerifyAsync(pw[i], hashes[i], CancellationToken.None));
            Assert.False(await passwords.VerifyAsync(pw[(i + 1) % pw.Count], hashes[i], CancellationToken.None));
        }
    }

    [Fact]
    public async Task VerifyAsync_NoOrUnusableHash_IsFalse()
    {
        using var passwords = New();

        Assert.False(await passwords.VerifyAsync("anything", null, CancellationToken.None));
        Assert.False(await passwords.VerifyAsync("anything", "", CancellationToken.None));
        Assert.False(await passwords.VerifyAsync("anything", "$2a$10$not-a-valid-salt", CancellationToken.None));
    }

    [Fact]
    public async Task VerifyAsync_AlreadyCancelled_ThrowsWithoutWork()
    {
        using var passwords = New();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            passwords.VerifyAsync("pw", "$2a$04$abcdefghijklmnopqrstuu", cts.Token));
    }

    [Fact]
    public async Task QueueLimit_Reached_FailsFastWith429AndRetryAfter_OthersStillAnswered()
    {
        using var passwords = New(cost: 10, queueLimit: 1);
        var hash = Bcrypt.Hash("right-password", 10);
        var answered = new List<Task<bool>>();
        var refused = new List<AuthServer.Http.ApiError>();
        // Each job takes tens of milliseconds; these are queued within microseconds, so the queue is full long
        // before a hashing thread comes back for more.
        for (var i = 0; i < Environment.ProcessorCount + 6; i++)
        {
            try { answered.Add(passwords.VerifyAsync("right-password", hash, CancellationToken.None)); }
            catch (AuthServer.Http.ApiError e) { refused.Add(e); }
        }

        Assert.NotEmpty(refused);
        Assert.All(refused, e =>
        {
            Assert.Equal(429, e.Status);
            Assert.Equal("over_request_rate_limit", e.Code);
            Assert.Equal(TimeSpan.FromSeconds(1), e.RetryAfter);
        });
        Assert.InRange(answered.Count, 1, Environment.ProcessorCount + 1);
        Assert.All(await Task.WhenAll(answered), Assert.True);
    }

    [Fact]
    public async Task NoQueueLimit_ByDefault_EveryCallIsAnswered()
    {
        using var passwords = New();
        var hash = await passwords.HashAsync("pw", CancellationToken.None);
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => passwords.VerifyAsync("pw", hash, CancellationToken.None)));
        Assert.All(results, Assert.True);
    }

    [Fact]
    public async Task HashingThreads_RunAtNice10_SoCheapRequestsKeepACore()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var passwords = New();
        await passwords.HashAsync("start the threads", CancellationToken.None);

        // Threads of other tests come and go while we look: a task gone between listing and reading is skipped.
        static string? Read(string path)
        {
            try { return File.ReadAllText(path); }
            catch (IOException) { return null; }
        }
        var niceOfBcryptThreads = Directory.GetDirectories("/proc/self/task")
            .Where(task => Read(Path.Combine(task, "comm"))?.StartsWith("bcrypt-", StringComparison.Ordinal) == true)
            .Select(task => Read(Path.Combine(task, "stat")))
            .OfType<string>()
            .Select(stat => int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[16])) // field 19, nice
            .ToList();
        Assert.NotEmpty(niceOfBcryptThreads);
        Assert.All(niceOfBcryptThreads, nice => Assert.Equal(10, nice));
    }
}
