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
internal sealed class GoTemplate
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

    // ---- parser ------------------------------------------------------------------------------------

    sealed class Parser(string text)
    {
        int pos;
        bool trimNextText;

        /// Nodes up to an `else…` or `end` action (returned in <paramref name="stop"/>) or the end of input.
        public List<Node> ParseList(out string? stop)
        {
            var list = new List<Node>();
            stop = null;
            while (pos < text.Length)
            {
                var open = text.IndexOf("{{", pos, StringComparison.Ordinal);
                var chunk = open < 0 ? text[pos..] : text[pos..open];
                var trimLeft = open >= 0 && open + 2 < text.Length && text[open + 2] == '-' &&
                               open + 3 < text.Length && char.IsWhiteSpace(text[open + 3]);
                if (trimNextText) chunk = chunk.TrimStart();
                if (trimLeft) chunk = chunk.TrimEnd();
                trimNextText = false;
                if (chunk.Length > 0) list.Add(new TextNode(chunk));
                if (open < 0) { pos = text.Length; break; }

                var start = open + (trimLeft ? 3 : 2);
                var close = text.IndexOf("}}", start, StringComparison.Ordinal);
                if (close < 0) throw new TemplateException("unclosed action");
                var end = close;
                if (end - 1 >= start && text[end - 1] == '-' && end - 2 >= start && char.IsWhiteSpace(text[end - 2]))
                {
                    trimNextText = true;
                    end--;
                }
                var action = text[start..end].Trim();
                pos = close + 2;

                if (action.StartsWith("/*", StringComparison.Ordinal))
                {
                    if (!action.EndsWith("*/", StringComparison.Ordinal)) throw new TemplateException("unclosed comment");
                    continue;
                }
                var tokens = Tokenize(action);
                if (tokens.Count == 0) throw new TemplateException("missing value for command");
                switch (tokens[0])
                {
                    case "if" or "with":
                        list.Add(ParseIf(tokens.Skip(1).ToList(), tokens[0] == "with"));
                        break;
                    case "else" or "end":
                        stop = action;
                        return list;
                    case "range" or "template" or "define" or "block" or "break" or "continue":
                        throw new TemplateException($"{tokens[0]} is not supported");
                    default:
                        list.Add(new PrintNode(ParsePipeline(tokens)));
                        break;
                }
            }
            return list;
        }

        IfNode ParseIf(List<string> condition, bool isWith)
        {
            var cond = ParsePipeline(condition);
            var then = ParseList(out var stop);
            var elseList = new List<Node>();
            if (stop is null) throw new TemplateException("unexpected EOF: missing {{end}}");
            var stopTokens = Tokenize(stop);
            if (stopTokens[0] == "else")
            {
                if (stopTokens.Count > 1 && stopTokens[1] is "if" or "with")
                {
                    // `{{else if x}}` is `{{else}}{{if x}}…{{end}}` sharing the outer {{end}}.
                    elseList.Add(ParseIf(stopTokens.Skip(2).ToList(), stopTokens[1] == "with"));
                    return new IfNode(cond, then, elseList, isWith);
                }
                if (stopTokens.Count > 1) throw new TemplateException("unexpected tokens after else");
                elseList = ParseList(out stop);
                if (stop is null || Tokenize(stop)[0] != "end") throw new TemplateException("expected {{end}}");
            }
            else if (stopTokens.Count > 1) throw new TemplateException("unexpected tokens after end");
            return new IfNode(cond, then, elseList, isWith);
        }

        static Expr ParsePipeline(List<string> tokens)
        {
            var index = 0;
            var expr = ParseCommand(tokens, ref index, topLevel: true);
            if (index != tokens.Count) throw new TemplateException($"unexpected \"{tokens[index]}\"");
            return expr;
        }

        static Expr ParseCommand(List<string> tokens, ref int index, bool topLevel)
        {
            if (index >= tokens.Count) throw new TemplateException("missing value for command");
            var head = tokens[index];
            if (head is "eq" or "ne" or "and" or "or" or "not")
            {
                index++;
                var args = new List<Expr>();
                while (index < tokens.Count && tokens[index] != ")")
                    args.Add(ParseOperand(tokens, ref index));
                return new Call(head, args);
            }
            var operand = ParseOperand(tokens, ref index);
            if (topLevel && index < tokens.Count) throw new TemplateException($"unexpected \"{tokens[index]}\"");
            return operand;
        }

        static Expr ParseOperand(List<string> tokens, ref int index)
        {
            var token = tokens[index++];
            if (token == "(")
            {
                var inner = ParseCommand(tokens, ref index, topLevel: false);
                if (index >= tokens.Count || tokens[index] != ")") throw new TemplateException("unclosed left paren");
                index++;
                return inner;
            }
            if (token == ".") return new Field([]);
            if (token.StartsWith('.')) return new Field(token[1..].Split('.'));
            if (token.StartsWith('"') || token.StartsWith('`')) return new Literal(token[1..^1]);
            if (token is "true" or "false") return new Literal(token == "true");
            if (token == "nil") return new Literal(null);
            if (double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)) return new Literal(number);
            throw new TemplateException($"unsupported \"{token}\"");
        }

        static List<string> Tokenize(string action)
        {
            var tokens = new List<string>();
            var i = 0;
            while (i < action.Length)
            {
                var c = action[i];
                if (char.IsWhiteSpace(c)) { i++; continue; }
                if (c is '(' or ')') { tokens.Add(c.ToString()); i++; continue; }
                if (c == '|' || c == '$') throw new TemplateException("pipelines and variables are not supported");
                if (c == '"')
                {
                    var sb = new StringBuilder("\"");
                    i++;
                    while (i < action.Length && action[i] != '"')
                    {
                        if (action[i] == '\\' && i + 1 < action.Length)
                        {
                            i++;
                            sb.Append(action[i] switch { 'n' => '\n', 't' => '\t', var other => other });
                        }
                        else sb.Append(action[i]);
                        i++;
                    }
                    if (i >= action.Length) throw new TemplateException("unterminated quoted string");
                    tokens.Add(sb.Append('"').ToString());
                    i++;
                    continue;
                }
                if (c == '`')
                {
                    var closing = action.IndexOf('`', i + 1);
                    if (closing < 0) throw new TemplateException("unterminated raw quoted string");
                    tokens.Add(action[i..(closing + 1)]);
                    i = closing + 1;
                    continue;
                }
                var startWord = i;
                while (i < action.Length && !char.IsWhiteSpace(action[i]) && action[i] is not ('(' or ')')) i++;
                tokens.Add(action[startWord..i]);
            }
            return tokens;
        }
    }
}

internal sealed class TemplateException(string message) : Exception(message);
