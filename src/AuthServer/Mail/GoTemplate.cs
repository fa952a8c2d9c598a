using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace AuthServer.Mail;

/// The part of Go's `html/template` that Supabase email templates use, so a project's existing templates
/// render unchanged: `{{ .Var }}`, `{{ .Data.key.sub }}`, `{{ . }}`, string/number/bool literals,
/// `{{ if }}` / `{{ else if }}` / `{{ else }}` / `{{ end }}`, `{{ with }}`, the functions `eq`, `ne`, `and`,
/// `or`, `not`, parentheses, `{{- -}}` trimming and `{{/* comments */}}`. Output is HTML-escaped as
/// html/template does in text context. Anything else is a <see cref="TemplateException"/>, and the caller
/// falls back to the default template (no .NET package implements Go templates).
internal sealed partial class GoTemplate
{
    readonly List<Node> nodes;

    GoTemplate(List<Node> nodes) => this.nodes = nodes;

    public static GoTemplate Parse(string text)
    {
        var parser = new Parser(text);
        var body = parser.ParseList(out var stop);
        if (stop is not null) throw new TemplateException($"unexpected {{{{{stop}}}}}");
        return new GoTemplate(body);
    }

    /// <param name="data">Top-level values: strings, or a <see cref="JsonObject"/> for `Data`.</param>
    public string Render(IReadOnlyDictionary<string, object?> data)
    {
        var output = new StringBuilder();
        Execute(nodes, data, output);
        return output.ToString();
    }

    // ---- execution ---------------------------------------------------------------------------------

    static void Execute(List<Node> list, object? dot, StringBuilder output)
    {
        foreach (var node in list)
        {
            switch (node)
            {
                case TextNode text:
                    output.Append(text.Text);
                    break;
                case PrintNode print:
                    output.Append(HtmlEscape(Format(Eval(print.Expr, dot))));
                    break;
                case IfNode branch:
                    var value = Eval(branch.Condition, dot);
                    if (IsTrue(value)) Execute(branch.Then, branch.IsWith ? value : dot, output);
                    else Execute(branch.Else, dot, output);
                    break;
            }
        }
    }

    static object? Eval(Expr expr, object? dot) => expr switch
    {
        Literal l => l.Value,
        Field f => f.Path.Aggregate(dot, Lookup),
        Call c => Invoke(c, dot),
        _ => throw new TemplateException("unsupported expression"),
    };

    static object? Lookup(object? value, string key) => value switch
    {
        IReadOnlyDictionary<string, object?> map => map.TryGetValue(key, out var v) ? Normalize(v) : null,
        JsonObject obj => obj.TryGetPropertyValue(key, out var node) ? Normalize(node) : null,
        null => null,
        _ => throw new TemplateException($"can't evaluate field {key} in a {value.GetType().Name}"),
    };

    static object? Normalize(object? value) => value switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<double>(out var d) => d,
        JsonValue v => v.ToJsonString(),
        _ => value,
    };

    static object? Invoke(Call call, object? dot)
    {
        var args = call.Args;
        switch (call.Name)
        {
            case "not":
                Arity(call, 1);
                return !IsTrue(Eval(args[0], dot));
            case "and":
                {
                    // Go: the first empty argument, else the last one (evaluation stops early).
                    object? last = null;
                    foreach (var arg in args) { last = Eval(arg, dot); if (!IsTrue(last)) return last; }
                    return last;
                }
            case "or":
                {
                    object? last = null;
                    foreach (var arg in args) { last = Eval(arg, dot); if (IsTrue(last)) return last; }
                    return last;
                }
            case "eq":
                {
                    if (args.Count < 2) throw new TemplateException("eq: missing argument for comparison");
                    var first = Eval(args[0], dot);
                    return args.Skip(1).Any(a => Same(first, Eval(a, dot)));
                }
            case "ne":
                Arity(call, 2);
                return !Same(Eval(args[0], dot), Eval(args[1], dot));
            default:
                throw new TemplateException($"function \"{call.Name}\" not defined");
        }
    }

    static void Arity(Call call, int count)
    {
        if (call.Args.Count != count) throw new TemplateException($"{call.Name}: wrong number of args");
    }

    /// Go's `eq`: same basic kind and value. A missing key is not equal to any string (Supabase templates
    /// compare optional metadata such as `.Data.locale`, which Go answers with false, never an error).
    static bool Same(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (string x, string y) => string.Equals(x, y, StringComparison.Ordinal),
        (double x, double y) => x == y,
        (bool x, bool y) => x == y,
        (null, _) or (_, null) => false,
        _ => throw new TemplateException("incompatible types for comparison"),
    };

    static bool IsTrue(object? value) => value switch
    {
        null => false,
        bool b => b,
        string s => s.Length > 0,
        double d => d != 0,
        JsonObject o => o.Count > 0,
        JsonArray a => a.Count > 0,
        _ => true,
    };

    static string Format(object? value) => value switch
    {
        null => "",
        string s => s,
        bool b => b ? "true" : "false",
        double d => d.ToString(CultureInfo.InvariantCulture),
        JsonNode n => n.ToJsonString(),
        _ => value.ToString() ?? "",
    };

    /// html/template's escaping of text: the five HTML specials and NUL, with Go's entity spellings.
    public static string HtmlEscape(string value)
    {
        if (value.AsSpan().IndexOfAny("&'<>\"\0") < 0) return value;
        var sb = new StringBuilder(value.Length + 16);
        foreach (var c in value)
            sb.Append(c switch
            {
                '&' => "&amp;",
                '\'' => "&#39;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&#34;",
                '\0' => "\uFFFD",
                _ => c.ToString(),
            });
        return sb.ToString();
    }

    // ---- syntax tree -------------------------------------------------------------------------------

    abstract record Node;
    sealed record TextNode(string Text) : Node;
    sealed record PrintNode(Expr Expr) : Node;
    sealed record IfNode(Expr Condition, List<Node> Then, List<Node> Else, bool IsWith) : Node;

    abstract record Expr;
    sealed record Literal(object? Value) : Expr;
    sealed record Field(string[] Path) : Expr;
    sealed record Call(string Name, List<Expr> Args) : Expr;
}

internal sealed class TemplateException(string message) : Exception(message);
