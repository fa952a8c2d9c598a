// HTTP floor for GET /user: the smallest ASP.NET Core app doing the irreducible work of that route,
// one HS256 bearer check (JsonWebTokenHandler) plus one indexed SELECT of the user row, serialised with
// source-generated JSON. Driven by bench/run.sh with the same wrk settings as the server's flows.
//   FLOOR_PG="Host=…;Maximum Pool Size=16;Max Auto Prepare=50" FLOOR_JWT_SECRET=… dotnet FloorHttp.dll --urls http://127.0.0.1:PORT
//   GET /plaintext   "ok" (Kestrel + routing only)
//   GET /db/getuser  HS256 check + SELECT by sub (the GET /user floor)
using System.Text;
using System.Text.Json.Serialization;
using Dapper;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Npgsql;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, FloorJson.Default));
var app = builder.Build();

var connectionString = Environment.GetEnvironmentVariable("FLOOR_PG") ?? throw new InvalidOperationException("FLOOR_PG not set");
var secret = Environment.GetEnvironmentVariable("FLOOR_JWT_SECRET") ?? throw new InvalidOperationException("FLOOR_JWT_SECRET not set");
await using var db = NpgsqlDataSource.Create(connectionString);
var handler = new JsonWebTokenHandler();
var validation = new TokenValidationParameters
{
    ValidateIssuer = false,
    ValidAudience = "authenticated",
    IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)),
};

const string Sql = """
    select id, aud, role, email, email_confirmed_at, last_sign_in_at, raw_app_meta_data::text as app_meta,
           raw_user_meta_data::text as user_meta, created_at, updated_at, is_anonymous
    from auth.users where id = @id
    """;

app.MapGet("/plaintext", () => "ok");
app.MapGet("/db/getuser", async (HttpRequest request) =>
{
    var header = request.Headers.Authorization.ToString();
    if (!header.StartsWith("Bearer ", StringComparison.Ordinal)) return Results.Unauthorized();
    var result = await handler.ValidateTokenAsync(header[7..], validation);
    if (!result.IsValid || result.Claims["sub"] is not string sub) return Results.Unauthorized();
    await using var conn = await db.OpenConnectionAsync();
    var row = await conn.QuerySingleOrDefaultAsync<UserRow>(Sql, new { id = Guid.Parse(sub) });
    return row is null ? Results.NotFound() : Results.Ok(row.ToDto());
});
app.Run();

sealed class UserRow
{
    public Guid Id { get; set; }
    public string? Aud { get; set; }
    public string? Role { get; set; }
    public string? Email { get; set; }
    public DateTime? Email_Confirmed_At { get; set; }
    public DateTime? Last_Sign_In_At { get; set; }
    public string? App_Meta { get; set; }
    public string? User_Meta { get; set; }
    public DateTime? Created_At { get; set; }
    public DateTime? Updated_At { get; set; }
    public bool Is_Anonymous { get; set; }

    public UserDto ToDto() => new(Id, Aud, Role, Email, Email_Confirmed_At, Last_Sign_In_At,
        System.Text.Json.JsonDocument.Parse(App_Meta ?? "{}").RootElement,
        System.Text.Json.JsonDocument.Parse(User_Meta ?? "{}").RootElement, Created_At, Updated_At, Is_Anonymous);
}

sealed record UserDto(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("aud")] string? Aud,
    [property: JsonPropertyName("role")] string? Role,
    [property: JsonPropertyName("email")] string? Email,
    [property: JsonPropertyName("email_confirmed_at")] DateTime? EmailConfirmedAt,
    [property: JsonPropertyName("last_sign_in_at")] DateTime? LastSignInAt,
    [property: JsonPropertyName("app_metadata")] System.Text.Json.JsonElement AppMetadata,
    [property: JsonPropertyName("user_metadata")] System.Text.Json.JsonElement UserMetadata,
    [property: JsonPropertyName("created_at")] DateTime? CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTime? UpdatedAt,
    [property: JsonPropertyName("is_anonymous")] bool IsAnonymous);

[JsonSerializable(typeof(UserDto))]
[JsonSerializable(typeof(string))]
sealed partial class FloorJson : JsonSerializerContext;
