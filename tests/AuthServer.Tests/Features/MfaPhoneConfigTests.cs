using System.Diagnostics;

namespace AuthServer.Tests.Features;

/// <summary>GOTRUE_MFA_PHONE_* at boot: the built server run as its own process. (WebAuthn flags and a phone
/// provider without credentials boot, as in GoTrue: Config/BootParityTests.)</summary>
public sealed class MfaPhoneConfigTests
{
    [Theory]
    [InlineData("GOTRUE_MFA_PHONE_TEMPLATE", "Your code is {{ .Code ")]
    [InlineData("GOTRUE_MFA_WEB_AUTHN_ENROLL_ENABLED", "maybe")] // not a boolean: GoTrue's envconfig refuses it too
    public async Task Server_BadMfaSetting_ExitsNamingTheVariable(string name, string value)
    {
        var (code, stderr) = await RunServerAsync(new()
        {
            ["GOTRUE_MFA_PHONE_ENROLL_ENABLED"] = "true",
            ["GOTRUE_HOOK_SEND_SMS_ENABLED"] = "true", // no provider needed
            ["GOTRUE_HOOK_SEND_SMS_URI"] = "https://hooks.example.com/sms",
            ["GOTRUE_HOOK_SEND_SMS_SECRETS"] = Infrastructure.HookReceiver.Secret,
            [name] = value,
        });

        Assert.Equal(1, code);
        Assert.Contains($"configuration error: {name}", stderr);
    }

    /// The built AuthServer.dll with only these settings (plus the required ones); configuration is read
    /// before the database is contacted, so none is needed.
    static async Task<(int Code, string Stderr)> RunServerAsync(Dictionary<string, string> env)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "AuthServer.dll"));
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("GOTRUE_") || k is "DATABASE_URL" or "API_EXTERNAL_URL" or "PORT").ToList())
            start.Environment.Remove(key);
        start.Environment["GOTRUE_JWT_SECRET"] = Infrastructure.AuthServerFixture.JwtSecret;
        start.Environment["GOTRUE_SITE_URL"] = "http://localhost:3000";
        start.Environment["API_EXTERNAL_URL"] = "http://localhost:9999";
        start.Environment["GOTRUE_DB_DRIVER"] = "postgres";
        start.Environment["DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none";
        start.Environment["PORT"] = "0";
        foreach (var (k, v) in env) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { process.Kill(entireProcessTree: true); throw; }
        await stdout;
        return (process.ExitCode, await stderr);
    }
}
