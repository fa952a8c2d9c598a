using System.Net.Http.Json;
using AuthServer.Security;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>
/// Admin `password_hash` imports in GoTrue's other formats (internal/crypto/password.go): argon2i/argon2id PHC
/// strings and Firebase scrypt, verified on the password grant and left as they are (GoTrue rehashes only bcrypt).
/// Vectors: the Argon2 reference implementation's src/test.c ("password"/"somesalt", t=2, m=2^16, p=1), and
/// the Firebase scrypt README example (also recomputed with Python's hashlib.scrypt + AES-CTR from `cryptography`).
/// </summary>
public sealed class PasswordHashImportTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    const string Argon2i = "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA";
    const string Argon2id = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    const string FirebaseScrypt =
        "$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,sk=jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==" +
        "$42xEC+ixf3L2lw==$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==";

    static readonly string ServiceKey = TestKeys.ServiceRoleKey(withExp: false);

    [Theory]
    [InlineData(Argon2i, "password")]
    [InlineData(Argon2id, "password")]
    [InlineData(FirebaseScrypt, "user1password")]
    public void Verify_KnownAnswerVectors_MatchOnlyTheirPassword(string hash, string password)
    {
        Assert.True(ImportedPasswordHashes.Verify(password, hash));
        Assert.False(ImportedPasswordHashes.Verify(password + "x", hash));
    }

    [Theory]
    [InlineData(Argon2id, "password")]
    [InlineData(Argon2i, "password")]
    [InlineData(FirebaseScrypt, "user1password")]
    public async Task AdminCreate_ImportedHash_SignsInWithPasswordGrantAndKeepsHash(string hash, string password)
    {
        var email = AuthServerFixture.NewEmail("imported");
        using var admin = server.CreateClient(AuthServerFixture.ApiVersion2024, ServiceKey);
        var user = await server.OkJsonAsync(await admin.PostAsJsonAsync("/admin/users",
            new { email, password_hash = hash, email_confirm = true }));
        var id = Guid.Parse((string)user["id"]!);

        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/token?grant_type=password", new { email, password = password + "!" }),
            400, "invalid_credentials", "Invalid login credentials");
        var session = await server.SignInAsync(email, password);
        Assert.Equal(id.ToString(), (string?)session["user"]!["id"]);
        Assert.Equal(hash, await server.Db.ScalarAsync<string>("select encrypted_password from auth.users where id = @id", new { id }));
    }

    [Theory]
    [InlineData("$argon2d$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "unsupported algorithm")]
    [InlineData("$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "unsupported version")]
    [InlineData("$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "exceeds memory limit")]
    [InlineData("$argon2id$v=19$m=65536,t=2,p=1$$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "salt is empty")]
    [InlineData("$argon2id$v=19$m=65536,t=2,p=1,keyid=k$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "keyid")]
    [InlineData("$argon2id$garbage", "incorrect argon2 hash format")]
    [InlineData("$fbscrypt$v=2,n=14,r=8,p=1,ss=Bw==,sk=AAAA$42xEC+ixf3L2lw==$AAAA", "only version 1")]
    [InlineData("$fbscrypt$v=1,n=40,r=8,p=1,ss=Bw==,sk=AAAA$42xEC+ixf3L2lw==$AAAA", "invalid n parameter")]
    [InlineData("$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,sk=AAAA$42xEC+ixf3L2lw==$not*base64", "invalid base64")]
    [InlineData("$fbscrypt$nope", "incorrect scrypt hash format")]
    public async Task AdminCreate_MalformedImportedHash_Returns400(string hash, string complaint)
    {
        var email = AuthServerFixture.NewEmail("badhash");
        using var admin = server.CreateClient(AuthServerFixture.ApiVersion2024, ServiceKey);
        var body = await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync("/admin/users", new { email, password_hash = hash }),
            400, "validation_failed", messagePrefix: "Invalid password hash: ");
        Assert.Contains(complaint, (string)body["message"]!);
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
    }
}
