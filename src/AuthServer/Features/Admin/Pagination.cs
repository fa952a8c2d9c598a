using System.Text;
using AuthServer.Http;

namespace AuthServer.Features.Admin;

/// GoTrue's page/per_page paging (internal/api/pagination.go) and its `Link` / `X-Total-Count`
/// headers. supabase-js `listUsers` reads the page number after the first `=` of each Link URL, so
/// the URL keeps the request's query re-encoded with keys sorted, as Go's `url.Values.Encode` does.
internal readonly record struct Page(ulong Number, ulong PerPage, long Limit, long Offset);

internal static class Pagination
{
    const ulong DefaultPerPage = 50;

    public static Page Parse(HttpRequest request)
    {
        ulong page = 1, perPage = DefaultPerPage;
        var pageText = request.Query["page"].ToString();
        var perPageText = request.Query["per_page"].ToString();
        if (pageText.Length > 0 && !ulong.TryParse(pageText, System.Globalization.NumberStyles.None, null, out page))
            throw Bad($"strconv.ParseUint: parsing \"{pageText}\": invalid syntax");
        if (perPageText.Length > 0)
        {
            if (!ulong.TryParse(perPageText, System.Globalization.NumberStyles.None, null, out perPage))
                throw Bad($"strconv.ParseUint: parsing \"{perPageText}\": invalid syntax");
            if (perPage == 0) throw Bad("per_page must be greater than 0");
        }
        // pop's paginator treats page 0 as page 1; the headers still use the page as given.
        var limit = (long)Math.Min(perPage, long.MaxValue);
        var index = Math.Max(page, 1) - 1;
        var offset = index == 0 ? 0 : index > (ulong)(long.MaxValue / limit) ? long.MaxValue : (long)index * limit;
        return new Page(page, perPage, limit, offset);
    }

    static ApiError Bad(string reason) => ApiError.BadRequest(ErrorCode.ValidationFailed, "Bad Pagination Parameters: " + reason);

    public static void AddHeaders(HttpContext http, Page page, long total)
    {
        var count = (ulong)total;
        var totalPages = count / page.PerPage + (count % page.PerPage > 0 ? 1UL : 0UL);
        var query = http.Request.Query.ToDictionary(q => q.Key, q => q.Value.Select(v => v ?? "").ToList(), StringComparer.Ordinal);
        var path = http.Request.PathBase + http.Request.Path;
        var header = new StringBuilder();
        if (totalPages > page.Number)
        {
            query["page"] = [(page.Number + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)];
            header.Append('<').Append(path).Append('?').Append(Encode(query)).Append(">; rel=\"next\", ");
        }
        query["page"] = [totalPages.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        header.Append('<').Append(path).Append('?').Append(Encode(query)).Append(">; rel=\"last\"");
        http.Response.Headers.Append("Link", header.ToString());
        http.Response.Headers.Append("X-Total-Count", total.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// Go `url.Values.Encode`: keys sorted, `QueryEscape` (space → `+`).
    static string Encode(Dictionary<string, List<string>> query) =>
        string.Join("&", query.OrderBy(q => q.Key, StringComparer.Ordinal)
            .SelectMany(q => q.Value.Select(v => Escape(q.Key) + "=" + Escape(v))));

    static string Escape(string value) => Uri.EscapeDataString(value).Replace("%20", "+");
}
