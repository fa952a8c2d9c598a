using AuthServer.Config;
using AuthServer.Http;
using System.Text;
using System.Text.Json.Nodes;

namespace AuthServer.Security;

/// bcrypt (<see cref="Bcrypt"/>: libxcrypt or BCrypt.Net-Next), writing plain `$2a$` hashes that GoTrue (Go) reads and vice versa.
/// Hashing is CPU-bound (~80 ms at cost 10), so it runs on its own threads, one per core, fed by a queue:
/// a burst of sign-ins queues there instead of blocking thread-pool threads, which would starve every
/// other request (the pool starts with one thread per core and adds more only slowly). The hashing threads run
/// at a lower scheduling priority (nice 10), so during a login storm the cheap requests (GET /user, refresh)
/// still get a core when they need one, and bcrypt takes what is left.
internal sealed class Passwords : IDisposable
{
    readonly PasswordOptions options;
    readonly PwnedPasswords pwned;
    readonly Lazy<string> dummyHash;
    readonly System.Collections.Concurrent.BlockingCollection<Action> queue = new();

    public Passwords(PasswordOptions options, PwnedPasswords pwned, ILogger<Passwords>? logger = null)
    {
        this.options = options;
        this.pwned = pwned;
        logger?.LogInformation("bcrypt: {Engine}", Bcrypt.Engine);
        dummyHash = new Lazy<string>(() => Bcrypt.Hash(Secrets.NewToken(), options.HashCost));
        for (var i = 0; i < Environment.ProcessorCount; i++)
            new Thread(Work) { IsBackground = true, Name = "bcrypt-" + i }.Start();
    }

    void Work()
    {
        LowerPriority.OfCurrentThread();
        foreach (var item in queue.GetConsumingEnumerable()) item();
    }

    Task<T> RunAsync<T>(Func<T> work, CancellationToken ct)
    {
        if (options.HashQueueLimit > 0 && queue.Count >= options.HashQueueLimit)
            throw ApiError.TooManyRequests(ErrorCode.OverRequestRateLimit, "Request rate limit reached", TimeSpan.FromSeconds(1));
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        queue.Add(() =>
        {
            if (ct.IsCancellationRequested) { done.TrySetCanceled(ct); return; } // the client left while queued
            try { done.TrySetResult(work()); }
            catch (Exception e) { done.TrySetException(e); }
        }, ct);
        return done.Task;
    }

    public void Dispose() => queue.CompleteAdding();

    public Task<string> HashAsync(string password, CancellationToken ct) =>
        RunAsync(() => Bcrypt.Hash(password, options.HashCost), ct);

    /// Verifies against the stored hash; with no hash (unknown user, passwordless user) it still spends
    /// one bcrypt verification so response time does not reveal whether the account exists.
    public Task<bool> VerifyAsync(string password, string? hash, CancellationToken ct)
    {
        if (hash is not null && ImportedPasswordHashes.IsImported(hash)) // argon2 / fbscrypt from admin password_hash
            return RunAsync(() => ImportedPasswordHashes.Verify(password, hash), ct);
        var usable = hash is not null && hash.StartsWith("$2", StringComparison.Ordinal);
        return RunAsync(() => Bcrypt.Verify(password, usable ? hash! : dummyHash.Value) && usable, ct);
    }

    /// The strength policy (GOTRUE_PASSWORD_*, GoTrue's checkPasswordStrength): null when the password
    /// passes, else the 422 payload. With GOTRUE_PASSWORD_HIBP_ENABLED the Pwned Passwords check runs too
    /// (its reasons add to the others), and a fail-closed outage throws GoTrue's 500.
    public async Task<WeakPassword?> CheckAsync(string password, CancellationToken ct)
    {
        var reasons = new List<string>();
        var messages = new List<string>();
        if (password.Length < options.MinLength)
        {
            reasons.Add("length");
            messages.Add($"Password should be at least {options.MinLength} characters.");
        }
        if (options.RequiredCharacters.Any(group => !password.Any(group.Contains)))
        {
            reasons.Add("characters");
            messages.Add("Password should contain at least one character of each: " +
                         string.Join(", ", options.RequiredCharacters) + ".");
        }
        if (options.Hibp.Enabled && await pwned.IsPwnedAsync(password, ct))
        {
            reasons.Add("pwned");
            messages.Add("Password is known to be weak and easy to guess, please choose a different one.");
        }
        return reasons.Count == 0 ? null : new WeakPassword(string.Join(" ", messages), reasons);
    }

    /// Validation for a password being set: 400 if longer than bcrypt's 72 bytes, 422 if weak.
    public async Task EnsureAcceptableAsync(string password, CancellationToken ct)
    {
        if (Encoding.UTF8.GetByteCount(password) > 72)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Password cannot be longer than 72 characters");
        if (await CheckAsync(password, ct) is { } weak)
            throw new ApiError(422, ErrorCode.WeakPassword, weak.Message) { Extra = new JsonObject { ["weak_password"] = weak.ToJson(includeMessage: false) } };
    }
}

internal sealed record WeakPassword(string Message, IReadOnlyList<string> Reasons)
{
    public JsonObject ToJson(bool includeMessage)
    {
        var reasons = new JsonArray(Reasons.Select(r => (JsonNode?)JsonValue.Create(r)).ToArray());
        return includeMessage
            ? new JsonObject { ["message"] = Message, ["reasons"] = reasons }
            : new JsonObject { ["reasons"] = reasons };
    }
}

/// Linux: `setpriority` on the calling thread (a thread is a task with its own nice value). Raising one's
/// own niceness needs no privilege. Elsewhere, or if it fails, the thread keeps normal priority.
static class LowerPriority
{
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    static extern int SetPriority(int which, int who, int prio);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "gettid")]
    static extern int GetTid();

    public static void OfCurrentThread()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            SetPriority(0 /* PRIO_PROCESS: a tid here */, GetTid(), 10);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // an old libc without gettid: normal priority
        }
    }
}
