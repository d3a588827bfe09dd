namespace Embargo.Weights;

/// <summary>One tensor to write: its name, target dtype and shape (row-major, as safetensors lists it).</summary>
public sealed record TensorPlan(string Name, string Dtype, IReadOnlyList<long> Shape)
{
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);
    public long Bytes => TensorValues.BytesFor(Dtype, Elements);
}

/// <summary>Streams tensor <c>index</c>'s float32 values, in order, into the sink (chunks of a multiple of 32 values
/// except possibly the last).</summary>
public delegate void TensorSource(int index, Action<ReadOnlySpan<float>> sink);

/// <summary>Encodes streamed float32 values into a tensor's dtype and writes them, in bounded buffers.</summary>
internal sealed class TensorEncoder(Stream output)
{
    private byte[] _buffer = new byte[TensorValues.ChunkElements * 4];

    public long Write(TensorPlan plan, int index, TensorSource source)
    {
        long written = 0;
        long elements = 0;
        source(index, values =>
        {
            if (values.Length == 0)
            {
                return;
            }
            if (plan.Dtype is "Q8_0" or "Q4_0" && values.Length % TensorValues.BlockElements != 0)
            {
                throw new ArgumentException($"{plan.Dtype} values must come in multiples of {TensorValues.BlockElements}");
            }
            var bytes = (int)TensorValues.BytesFor(plan.Dtype, values.Length);
            if (_buffer.Length < bytes)
            {
                _buffer = new byte[bytes];
            }
            TensorValues.Encode(plan.Dtype, values, _buffer.AsSpan(0, bytes));
            output.Write(_buffer, 0, bytes);
            written += bytes;
            elements += values.Length;
        });
        if (elements != plan.Elements || written != plan.Bytes)
        {
            throw new InvalidOperationException($"tensor {plan.Name}: {elements} values written, {plan.Elements} planned");
        }
        return written;
    }
}
