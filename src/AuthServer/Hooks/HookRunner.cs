using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Http;
using Dapper;
using Npgsql;

namespace AuthServer.Hooks;

/// Runs auth hooks the way GoTrue's v0 hooks do (internal/hooks/v0hooks): a `pg-functions://` hook is
/// `select "schema"."fn"(input::jsonb)` under a 2 s statement timeout in the caller's transaction; an
/// HTTP hook is a Standard Webhooks-signed POST (5 s timeout, 3 attempts, 200 KB answer limit). Any
/// failure to run the hook is a 500 "Error running hook URI"; an answer carrying
/// `{"error":{"http_code","message"}}` fails the request with that status and message.
internal sealed class HookRunner(HookOptions options, NpgsqlDataSource db, TimeProvider clock, ILogger<HookRunner> log)
{
    const int ResponseLimit = 200 * 1024;
    const int PgTimeoutMs = 2000;
    const int HttpAttempts = 3;
    static readonly TimeSpan HttpTimeout = TimeSpan.FromSeconds(5);
    static readonly TimeSpan HttpBackoff = TimeSpan.FromSeconds(2);
    static readonly HttpClient Client = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public HookOptions Options => options;
    public NpgsqlDataSource DataSource => db;

    /// GoTrue `v0hooks.Metadata`: `{uuid, time, name, ip_address}` sent with the newer hooks.
    public JsonObject Metadata(HttpContext http, string name)
    {
        var metadata = new JsonObject
        {
            ["uuid"] = Guid.NewGuid().ToString(),
            ["time"] = clock.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", System.Globalization.CultureInfo.InvariantCulture),
            ["name"] = name,
        };
        if (ClientInfo.Ip(http) is { Length: > 0 } ip) metadata["ip_address"] = ip;
        return metadata;
    }

    /// Runs the hook and checks the answer's `error` object. <paramref name="conn"/> is the caller's
    /// connection with its open transaction (pg hooks run inside it), or null to use a fresh one.
    public async Task<JsonObject> RunAsync(HookConfig hook, NpgsqlConnection? conn, JsonObject input, CancellationToken ct)
    {
        JsonObject output;
        try
        {
            // GoTrue boots with these and fails each call: no URI ("unsupported protocol"), or an asymmetric
            // secret it cannot sign with ("invalid signature format").
            if (hook.Uri.Length == 0) throw new InvalidOperationException("unsupported protocol: the hook has no URI");
            if (hook.HasAsymmetricSecret) throw new InvalidOperationException("invalid signature format");
            var raw = hook.IsHttp ? await RunHttpAsync(hook, input, ct) : await RunPgAsync(hook, conn, input, ct);
            output = raw is null ? [] : JsonNode.Parse(raw) as JsonObject ?? throw new JsonException("hook output is not a JSON object");
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            log.LogWarning(e, "Hook {Hook} errored out", hook.Name);
            throw ApiError.Internal("Error running hook URI: " + hook.Uri, e);
        }

        if (output["error"] is JsonObject error && error["message"] is JsonValue m && m.TryGetValue<string>(out var message) &&
            message.Length > 0)
        {
            var status = error["http_code"] is JsonValue c && c.TryGetValue<int>(out var code) && code is >= 400 and <= 599 ? code : 500;
            throw new ApiError(status, status >= 500 ? ErrorCode.UnexpectedFailure : ErrorCode.Unknown, message);
        }
        return output;
    }

    /// The custom access token hook (jwt.md §1): the claims it answers are signed verbatim once they
    /// pass GoTrue's minimum schema (`v0hooks.MinimumViableTokenSchema`); otherwise 500.
    public async Task<JsonObject> CustomizeAccessTokenAsync(NpgsqlConnection? conn, Guid userId, JsonObject claims,
        string authenticationMethod, CancellationToken ct)
    {
        var input = new JsonObject
        {
            ["user_id"] = userId.ToString(),
            ["claims"] = claims.DeepClone(),
            ["authentication_method"] = authenticationMethod,
        };
        var output = await RunAsync(options.CustomAccessToken, conn, input, ct);
        // GoTrue decodes the answer into `{claims map}`: claims of another JSON type fail the decoding.
        if (output["claims"] is JsonValue or JsonArray)
            throw ApiError.Internal("Error running hook URI: " + options.CustomAccessToken.Uri);
        var problems = TokenClaimsSchema.Check(output["claims"]);
        if (problems.Count > 0)
        {
            var status = output["error"] is JsonObject e && e["http_code"] is JsonValue c && c.TryGetValue<int>(out var code)
                && code is >= 400 and <= 599 ? code : 500;
            throw new ApiError(status, status >= 500 ? ErrorCode.UnexpectedFailure : ErrorCode.Unknown,
                "output claims do not conform to the expected schema: \n" + string.Concat(problems.Select(p => $"- {p}\n")));
        }
        return (JsonObject)output["claims"]!;
    }

    async Task<string?> RunPgAsync(HookConfig hook, NpgsqlConnection? conn, JsonObject input, CancellationToken ct)
    {
        // The function name comes from validated configuration (identifiers only), never from a request.
        var sql = $"""
            set local statement_timeout to '{PgTimeoutMs}';
            select {hook.PgFunction}(@input::jsonb)::text;
            set local statement_timeout to default;
            """;
        if (conn is not null)
            return await conn.QuerySingleAsync<string?>(new CommandDefinition(sql, new { input = input.ToJsonString() }, cancellationToken: ct));

        await using var own = await db.OpenConnectionAsync(ct);
        await using var tx = await own.BeginTransactionAsync(ct);
        var result = await own.QuerySingleAsync<string?>(new CommandDefinition(sql, new { input = input.ToJsonString() }, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return result;
    }

    async Task<string?> RunHttpAsync(HookConfig hook, JsonObject input, CancellationToken ct)
    {
        var payload = Encoding.UTF8.GetBytes(input.ToJsonString());
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(HttpTimeout);
        for (var attempt = 0; attempt < HttpAttempts; attempt++)
        {
            var id = Guid.NewGuid().ToString();
            var timestamp = clock.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
            using var request = new HttpRequestMessage(HttpMethod.Post, hook.Uri) { Content = new ByteArrayContent(payload) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.TryAddWithoutValidation("webhook-id", id);
            request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp);
            request.Headers.TryAddWithoutValidation("webhook-signature", string.Join(", ", Signatures(hook, id, timestamp, payload)));

            HttpResponseMessage response;
            try
            {
                response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            }
            catch (HttpRequestException) when (attempt < HttpAttempts - 1)
            {
                await Task.Delay(HttpBackoff, clock, timeout.Token);
                continue;
            }
            using (response)
            {
                switch (response.StatusCode)
                {
                    case HttpStatusCode.OK or HttpStatusCode.Accepted or HttpStatusCode.NoContent:
                        var mediaType = response.Content.Headers.ContentType?.MediaType;
                        if (mediaType is null)
                            return response.StatusCode == HttpStatusCode.NoContent ? null
                                : throw new InvalidOperationException("Invalid Content-Type: Missing Content-Type header");
                        if (mediaType != "application/json")
                            throw new InvalidOperationException("Invalid JSON response. Received content-type: " + mediaType);
                        var body = await ReadLimitedAsync(response, timeout.Token);
                        return body.Length == 0 ? null : body;
                    case HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable
                        when response.Headers.Contains("retry-after"):
                        continue;
                    default:
                        throw new InvalidOperationException($"Unexpected status code returned from hook: {(int)response.StatusCode}");
                }
            }
        }
        throw new InvalidOperationException("Service currently unavailable due to hook");
    }

    static async Task<string> ReadLimitedAsync(HttpResponseMessage response, CancellationToken ct)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > ResponseLimit)
                throw new InvalidOperationException($"Payload size exceeded size limit of {ResponseLimit} bytes");
            buffer.Write(chunk, 0, read);
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// Standard Webhooks v1: base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), one per secret.
    internal static IEnumerable<string> Signatures(HookConfig hook, string id, string timestamp, byte[] payload)
    {
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
        var message = new byte[prefix.Length + payload.Length];
        prefix.CopyTo(message, 0);
        payload.CopyTo(message, prefix.Length);
        return hook.SecretKeys.Select(key => "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, message)));
    }
}

/// GoTrue's `MinimumViableTokenSchema` (internal/hooks/v0hooks/v0hooks.go), with gojsonschema's wording.
internal static class TokenClaimsSchema
{
    static readonly string[] Required = ["aud", "exp", "iat", "sub", "email", "phone", "role", "aal", "session_id", "is_anonymous"];

    public static List<string> Check(JsonNode? claims)
    {
        if (claims is not JsonObject obj) return [$"(root): Invalid type. Expected: object, given: {Kind(claims)}"];
        var problems = Required.Where(name => !obj.ContainsKey(name)).Select(name => $"(root): {name} is required").ToList();
        foreach (var (name, value) in obj)
        {
            var expected = name switch
            {
                "aud" => "string/array",
                "exp" or "iat" or "nbf" => "integer",
                "jti" or "iss" or "sub" or "email" or "phone" or "role" or "aal" or "session_id" => "string",
                "app_metadata" or "user_metadata" => "object",
                "amr" => "array",
                _ => null,
            };
            if (expected is null) continue;
            var kind = Kind(value);
            var ok = expected switch
            {
                "string/array" => kind is "string" or "array",
                "integer" => kind == "integer",
                _ => kind == expected,
            };
            if (!ok) problems.Add($"{name}: Invalid type. Expected: {expected}, given: {kind}");
            else if (name == "amr")
            {
                var i = 0;
                foreach (var item in (JsonArray)value!)
                {
                    if (Kind(item) != "object") problems.Add($"amr.{i}: Invalid type. Expected: object, given: {Kind(item)}");
                    i++;
                }
            }
        }
        return problems;
    }

    static string Kind(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "object",
        JsonArray => "array",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "string",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            JsonValueKind.Number => v.TryGetValue<long>(out _) || (v.TryGetValue<double>(out var d) && Math.Floor(d) == d) ? "integer" : "number",
            _ => "null",
        },
        _ => "null",
    };
}
