using System.Text.Json;

namespace AuthServer.Http;

/// Reads a JSON body the way GoTrue does: whatever the Content-Type, at most 1 MiB, any parse
/// failure (including an empty body) is 400 `bad_json`.
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
        try
        {
            return JsonSerializer.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), Json.Options)
                ?? throw BadJson("body is null");
        }
        catch (JsonException e)
        {
            throw BadJson(e.Message);
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
    };
}
