using System.Text;

namespace Embargo.Ledger.Tests;

public class LedgerJsonlTests
{
    private static LedgerResult<IReadOnlyList<byte[]>> Parse(string text) => LedgerJsonl.Parse(new StringReader(text));

    [Fact]
    public void FormattedLinesParseBackToTheExactLeafBytes()
    {
        byte[][] leaves = [[], [0], [0xff, 0xfe], Encoding.UTF8.GetBytes("{\"event\":\"case.opened\"}\n"), new byte[1000]];
        var text = new StringBuilder();
        for (var i = 0; i < leaves.Length; i++)
        {
            text.Append(LedgerJsonl.FormatLine(i, leaves[i])).Append('\n');
        }

        var parsed = Parse(text.ToString());

        Assert.True(parsed.IsOk, parsed.ToString());
        Assert.Equal(leaves, parsed.Value);
    }

    [Fact]
    public void FormatLineIsCompactJsonWithIndexAndBase64Leaf()
    {
        Assert.Equal("{\"index\":3,\"leaf\":\"AAEC\"}", LedgerJsonl.FormatLine(3, [0, 1, 2]));
        Assert.Equal("{\"index\":0,\"leaf\":\"\"}", LedgerJsonl.FormatLine(0, []));
        Assert.Equal("{\"index\":12,\"leaf\":\"+/8=\"}", LedgerJsonl.FormatLine(12, [0xfb, 0xff]));
    }

    [Fact]
    public void EmptyExportIsAnEmptyLedger()
    {
        Assert.Empty(Parse("").Value);
    }

    [Theory]
    [InlineData("{\"index\":0,\"leaf\":\"AA==\"}\n{\"index\":1,\"leaf\":\"AA==\"}garbage\n", 2, LedgerErrorKind.Malformed)]
    [InlineData("{\"index\":0,\"leaf\":\"AA==\"}\n{\"index\":1,\"leaf\":\"AA==\"}\ngarbage\n", 3, LedgerErrorKind.Malformed)]
    [InlineData("{\"index\":0,\"leaf\":\"AA==\"}\n\n", 2, LedgerErrorKind.Malformed)]
    [InlineData("{\"index\":0,\"leaf\":\"AA==\",\"extra\":1}\n", 1, LedgerErrorKind.Malformed)]
    [InlineData("{\"index\":0,\"leaf\":\"AA==\",\"leaf\":\"AQ==\"}\n", 1, LedgerErrorKind.Malformed)]
    [InlineData("{\"index\":0}\n", 1, LedgerErrorKind.Malformed)]
    [InlineData("{\"leaf\":\"AA==\"}\n", 1, LedgerErrorKind.Malformed)]
    [InlineData("{\"index\":\"0\",\"leaf\":\"AA==\"}\n", 1, LedgerErrorKind.Malformed)]
    [InlineData("{\"index\":0,\"leaf\":\"AA\"}\n", 1, LedgerErrorKind.Malformed)]
    [InlineData("{\"index\":0,\"leaf\":\"A A=\"}\n", 1, LedgerErrorKind.Malformed)]
    [InlineData("{\"index\":0,\"leaf\":\"AB==\"}\n", 1, LedgerErrorKind.Malformed)]
    [InlineData("{\"index\":0,\"leaf\":0}\n", 1, LedgerErrorKind.Malformed)]
    [InlineData("[0,\"AA==\"]\n", 1, LedgerErrorKind.Malformed)]
    [InlineData("{\"index\":0,\"leaf\":\"AA==\",}\n", 1, LedgerErrorKind.Malformed)]
    [InlineData("{\"index\":0,\"leaf\":\"AA==\"}\r\n", 1, LedgerErrorKind.Malformed)]
    [InlineData("{\"index\":0,\"leaf\":\"AA==\"}\n{\"index\":1,\"leaf\":\"AA==\"}", 2, LedgerErrorKind.Malformed)]
    [InlineData("{\"index\":1,\"leaf\":\"AA==\"}\n", 1, LedgerErrorKind.IndexOutOfRange)]
    [InlineData("{\"index\":0,\"leaf\":\"AA==\"}\n{\"index\":0,\"leaf\":\"AA==\"}\n", 2, LedgerErrorKind.IndexOutOfRange)]
    [InlineData("{\"index\":0,\"leaf\":\"AA==\"}\n{\"index\":2,\"leaf\":\"AA==\"}\n", 2, LedgerErrorKind.IndexOutOfRange)]
    [InlineData("{\"index\":0.0,\"leaf\":\"AA==\"}\n", 1, LedgerErrorKind.IndexOutOfRange)]
    [InlineData("{\"index\":-0,\"leaf\":\"AA==\"}\n", 1, LedgerErrorKind.IndexOutOfRange)]
    [InlineData("{\"index\":0e0,\"leaf\":\"AA==\"}\n", 1, LedgerErrorKind.IndexOutOfRange)]
    public void MalformedLedgerLinesAreRejectedNamingTheLine(string text, long line, LedgerErrorKind kind)
    {
        var result = Parse(text);

        Assert.False(result.IsOk);
        Assert.Equal(kind, result.Error.Kind);
        Assert.Equal(line, result.Error.Line);
        Assert.StartsWith($"ledger line {line}:", result.Error.Message, StringComparison.Ordinal);
    }
}
