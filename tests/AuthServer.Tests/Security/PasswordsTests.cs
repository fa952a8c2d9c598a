using AuthServer.Config;
using AuthServer.Security;

namespace AuthServer.Tests.Security;

/// bcrypt runs on the Passwords' own threads, fed by a queue (not on thread-pool threads).
public sealed class PasswordsTests
{
    static Passwords New()
    {
        var options = new PasswordOptions { HashCost = 4 };
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
}
