using System.Globalization;
using System.Text;

namespace AuthServer.Mail;

/// The template parser: text and `{{ … }}` actions into GoTemplate's nodes (Go's text/template/parse, reduced
/// to what Supabase email templates use).
internal sealed partial class GoTemplate
{
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
