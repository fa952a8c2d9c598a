using System.Text.Json;

namespace AuthServer.Http;

/// Reads a JSON body the way GoTrue does: whatever the Content-Type, at most 1 MiB, any parse
/// failure (including an empty body) is 400 `bad_json`. Stricter than GoTrue (security-tests B3★/B6★):
/// invalid UTF-8, duplicate keys, and strings PostgreSQL can't store (NUL, unpaired surrogates) are
/// `bad_json` too, instead of being silently replaced, last-one-wins, or a 500 from the database.
internal static class BodyReader
{
    public const int MaxBytes = 1 << 20;

    public static async Task<T> ReadAsync<T>(HttpRequest request, CancellationToken ct) where T : class
    {
        if (request.ContentLength > MaxBytes) throw TooLarge();
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBytes) throw TooLarge();
            buffer.Write(chunk, 0, read);
        }
        var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw BadJson("invalid UTF-8");
        try
        {
            RejectUnstorableStrings(bytes);
            return JsonSerializer.Deserialize<T>(bytes, Json.Options) ?? throw BadJson("body is null");
        }
        catch (JsonException e)
        {
            throw BadJson(e.Message);
        }
    }

    /// jsonb and text columns refuse `\u0000` (SQLSTATE 22P05/22021), a lone surrogate has no UTF-8 form,
    /// and a key given twice in one object is ambiguous.
    static void RejectUnstorableStrings(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        var keys = new Stack<HashSet<string>>();
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.StartObject) { keys.Push(new HashSet<string>(StringComparer.Ordinal)); continue; }
            if (reader.TokenType == JsonTokenType.EndObject) { keys.Pop(); continue; }
            if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName)) continue;
            if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped) continue;
            string value;
            try
            {
                value = reader.GetString()!;
            }
            catch (InvalidOperationException)
            {
                throw BadJson("strings must not contain unpaired surrogates");
            }
            if (reader.TokenType == JsonTokenType.PropertyName && !keys.Peek().Add(value))
                throw BadJson("duplicate key in an object");
            for (var i = 0; i < value.Length; i++)
            {
                var c = value[i];
                if (c == '\0') throw BadJson("strings must not contain NUL characters");
                if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])) { i++; continue; }
                if (char.IsSurrogate(c)) throw BadJson("strings must not contain unpaired surrogates");
            }
        }
    }

    static ApiError TooLarge() => new(413, ErrorCode.RequestEntityTooLarge,
        $"Request body too large (max {MaxBytes} bytes)");

    static ApiError BadJson(string reason) =>
        ApiError.BadRequest(ErrorCode.BadJson, "Could not parse request body as JSON: " + reason);
}

internal static class Json
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        // Two parsers (a proxy, a WAF, us) must not see different values for one key (security-tests B3★).
        AllowDuplicateProperties = false,
    };
}
