using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace Embargo.Protocol;

/// <summary>
/// A safety case drawn for people: a GSN-style SVG (goals as rectangles, strategies as parallelograms, solutions — the
/// evidence — as circles; open claims drawn dashed red and labelled OPEN) and Markdown. Text is escaped by the XML
/// writer; the drawing is a pure function of the safety case.
/// </summary>
public static class SafetyCaseRendering
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    private const int Column = 330, Margin = 20, CharsPerLine = 44, LineHeight = 14;
    private const string Open = "#b3261e", Ok = "#1b5e20";

    public static string ToSvg(SafetyCase sc)
    {
        var inv = CultureInfo.InvariantCulture;
        var columns = Math.Max(1, sc.Claims.Count);
        var width = Math.Max(columns * Column + 2 * Margin, 700);
        var body = new List<XElement>();
        var topLines = Wrap($"G0 [{sc.Status.ToUpperInvariant()}] {sc.Claim}", 90);
        var topHeight = 20 + topLines.Count * LineHeight;
        var topWidth = Math.Min(width - 2 * Margin, 660);
        var topX = (width - topWidth) / 2;
        body.Add(Box(topX, Margin, topWidth, topHeight, sc.Supported));
        body.Add(Text(topX + 10, Margin + 18, topLines, "goal"));
        var bottom = Margin + topHeight;
        // GSN identifiers are unique in the diagram: solutions are numbered across every claim.
        var solution = 0;
        for (var i = 0; i < sc.Claims.Count; i++)
        {
            var c = sc.Claims[i];
            var x = Margin + i * Column;
            var cx = x + (Column - 20) / 2;
            var w = Column - 20;
            // The sub-goal, linked to the top goal.
            var goalY = Margin + topHeight + 40;
            var goalLines = Wrap($"{c.Id} [{(c.Supported ? "SUPPORTED" : "OPEN")}{(c.Stale ? ", STALE" : "")}] {c.Claim}", CharsPerLine);
            var goalH = 16 + goalLines.Count * LineHeight;
            body.Add(Line(width / 2, Margin + topHeight, cx, goalY));
            body.Add(Box(x, goalY, w, goalH, c.Supported));
            body.Add(Text(x + 8, goalY + 16, goalLines, "goal"));
            // The strategy (parallelogram).
            var sY = goalY + goalH + 30;
            var sLines = Wrap($"S{i + 1} ({c.Argument}) {c.Strategy}", CharsPerLine - 4);
            var sH = 14 + sLines.Count * LineHeight;
            body.Add(Line(cx, goalY + goalH, cx, sY));
            body.Add(new XElement(Svg + "polygon",
                new XAttribute("points", string.Create(inv, $"{x + 14},{sY} {x + w},{sY} {x + w - 14},{sY + sH} {x},{sY + sH}")),
                new XAttribute("fill", "#eef3fb"), new XAttribute("stroke", "#1f3b73"), new XAttribute("class", "strategy")));
            body.Add(Text(x + 18, sY + 15, sLines, "strategy"));
            var y = sY + sH + 24;
            // Solutions hang from the strategy on one vertical line left of their text (a diagonal would cross it).
            var previousBottom = -1;
            // Solutions (circles), each a checkable piece of evidence.
            for (var j = 0; j < c.Evidence.Count; j++)
            {
                var leaf = c.Evidence[j];
                var leafLines = Wrap($"{leaf.Kind} {leaf.Ref}: {leaf.Text}{(leaf.Digest is { } d ? " " + Short(d) : "")}", CharsPerLine - 10);
                var h = Math.Max(48, 8 + leafLines.Count * LineHeight);
                body.Add(previousBottom < 0 ? Line(cx, sY + sH, x + 26, y + 2) : Line(x + 26, previousBottom, x + 26, y + 2));
                previousBottom = y + 42;
                body.Add(new XElement(Svg + "circle", new XAttribute("cx", x + 26), new XAttribute("cy", y + 22), new XAttribute("r", 20),
                    new XAttribute("fill", "#f1f8e9"), new XAttribute("stroke", Ok), new XAttribute("class", "solution")));
                body.Add(new XElement(Svg + "text", new XAttribute("x", x + 26), new XAttribute("y", y + 26), new XAttribute("text-anchor", "middle"),
                    new XAttribute("font-size", 10), $"Sn{++solution}"));
                body.Add(Text(x + 54, y + 12, leafLines, "solution-text"));
                y += h + 10;
            }
            // What an open claim is missing: an empty (dashed red) solution and the sentences that would close it.
            if (!c.Supported)
            {
                var missingLines = c.Missing.SelectMany(m => Wrap("• " + m, CharsPerLine - 10)).ToList();
                body.Add(previousBottom < 0 ? Line(cx, sY + sH, x + 26, y + 2) : Line(x + 26, previousBottom, x + 26, y + 2));
                body.Add(new XElement(Svg + "circle", new XAttribute("cx", x + 26), new XAttribute("cy", y + 22), new XAttribute("r", 20),
                    new XAttribute("fill", "#fff"), new XAttribute("stroke", Open), new XAttribute("stroke-dasharray", "4 3"), new XAttribute("class", "missing")));
                body.Add(new XElement(Svg + "text", new XAttribute("x", x + 26), new XAttribute("y", y + 26), new XAttribute("text-anchor", "middle"),
                    new XAttribute("font-size", 10), new XAttribute("fill", Open), "?"));
                body.Add(Text(x + 54, y + 12, ["MISSING:", .. missingLines], "missing-text", Open));
                y += Math.Max(48, 8 + (missingLines.Count + 1) * LineHeight) + 10;
            }
            bottom = Math.Max(bottom, y);
        }
        var height = bottom + Margin;
        var svg = new XElement(Svg + "svg",
            new XAttribute("width", width), new XAttribute("height", height),
            new XAttribute("viewBox", string.Create(inv, $"0 0 {width} {height}")),
            new XAttribute("role", "img"), new XAttribute("aria-labelledby", "safety-case-title"),
            new XAttribute("font-family", "sans-serif"), new XAttribute("font-size", 11),
            new XElement(Svg + "title", new XAttribute("id", "safety-case-title"),
                Clean($"Safety case for {sc.Model} at {sc.Tier}: {sc.Status} ({sc.Claims.Count(c => c.Supported)} of {sc.Claims.Count} claims supported)")),
            body);
        return svg.ToString(SaveOptions.DisableFormatting);
    }

    public static string ToMarkdown(SafetyCase sc)
    {
        var md = new StringBuilder();
        md.Append("# Safety case: ").Append(sc.Model).Append(" at `").Append(sc.Tier).Append("`\n\n");
        md.Append("- case: `").Append(sc.Case).Append("`\n- weights manifest: `").Append(sc.ManifestDigest).Append("`\n");
        md.Append("- reference model: ").Append(sc.ReferenceModel).Append("\n- status: **").Append(sc.Status).Append("**\n");
        md.Append("- argument order: ").Append(string.Join(" → ", sc.ArgumentOrder)).Append("\n\n");
        md.Append("**G0.** ").Append(sc.Claim).Append("\n\n");
        foreach (var m in sc.Missing)
        {
            md.Append("- missing: ").Append(m).Append('\n');
        }
        foreach (var c in sc.Claims)
        {
            md.Append("## ").Append(c.Id).Append(" — ").Append(c.Capability).Append(" (").Append(c.Status).Append(c.Stale ? ", stale" : "").Append(")\n\n");
            md.Append(c.Claim).Append(" (threat model `").Append(c.ThreatModel).Append("`)\n\n");
            md.Append("*Strategy (").Append(c.Argument).Append("):* ").Append(c.Strategy).Append("\n\n");
            foreach (var leaf in c.Evidence)
            {
                md.Append("- evidence: ").Append(leaf.Kind).Append(" `").Append(leaf.Ref).Append("` — ").Append(leaf.Text);
                if (leaf.Digest is { } d)
                {
                    md.Append(" (`").Append(d).Append("`)");
                }
                md.Append('\n');
            }
            foreach (var m in c.Missing)
            {
                md.Append("- **missing:** ").Append(m).Append('\n');
            }
            md.Append('\n');
        }
        return md.ToString();
    }

    private static XElement Box(int x, int y, int w, int h, bool supported) =>
        new(Svg + "rect", new XAttribute("x", x), new XAttribute("y", y), new XAttribute("width", w), new XAttribute("height", h),
            new XAttribute("fill", supported ? "#ffffff" : "#fff4f4"), new XAttribute("stroke", supported ? "#1f3b73" : Open),
            new XAttribute("stroke-width", supported ? 1 : 2), supported ? null : new XAttribute("stroke-dasharray", "6 3"),
            new XAttribute("class", supported ? "goal" : "goal open"));

    private static XElement Line(int x1, int y1, int x2, int y2) =>
        new(Svg + "line", new XAttribute("x1", x1), new XAttribute("y1", y1), new XAttribute("x2", x2), new XAttribute("y2", y2), new XAttribute("stroke", "#555"));

    private static XElement Text(int x, int y, IReadOnlyList<string> lines, string cls, string? fill = null) =>
        new(Svg + "text", new XAttribute("x", x), new XAttribute("y", y), new XAttribute("class", cls), fill is null ? null : new XAttribute("fill", fill),
            lines.Select((line, i) => new XElement(Svg + "tspan", new XAttribute("x", x), new XAttribute("dy", i == 0 ? 0 : LineHeight), line)));

    private static string Short(string digest) => digest.Length > 19 ? digest[..19] + "…" : digest;

    /// <summary>Only characters XML can carry (a control character in a stored name must not break the drawing).</summary>
    private static string Clean(string text) =>
        text.All(XmlConvert.IsXmlChar) ? text : new string(text.Select(ch => XmlConvert.IsXmlChar(ch) ? ch : '\uFFFD').ToArray());

    /// <summary>Greedy word wrap; a word longer than a line is cut.</summary>
    private static List<string> Wrap(string text, int width)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        foreach (var word in Clean(text).Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var w = word;
            while (w.Length > width)
            {
                if (line.Length > 0)
                {
                    lines.Add(line.ToString());
                    line.Clear();
                }
                lines.Add(w[..width]);
                w = w[width..];
            }
            if (line.Length > 0 && line.Length + 1 + w.Length > width)
            {
                lines.Add(line.ToString());
                line.Clear();
            }
            if (line.Length > 0)
            {
                line.Append(' ');
            }
            line.Append(w);
        }
        if (line.Length > 0 || lines.Count == 0)
        {
            lines.Add(line.ToString());
        }
        return lines;
    }
}
