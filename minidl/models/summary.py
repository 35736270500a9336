"""``model.summary()``: the Keras 3 table of layers, output shapes and parameter counts."""


def readable_size(num_bytes):
    """Bytes in Keras's style: ``'2.26 MB'`` (powers of 1024)."""
    size = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


def _row(cells, widths, left, sep, right):
    parts = []
    for i, (cell, width) in enumerate(zip(cells, widths)):
        text = cell.rjust(width) if i == 2 else cell.ljust(width)  # Param # to the right
        parts.append(f" {text} ")
    return left + sep.join(parts) + right


def _rule(widths, left, fill, sep, right):
    return left + sep.join(fill * (w + 2) for w in widths) + right


def summary_lines(model_name, rows, total, trainable, bytes_per_param=4):
    """The summary as a list of lines.

    Args:
        model_name (str): the model's name.
        rows (list of tuple): ``(layer name (type), output shape string, param count or
            text)`` per layer, or with a fourth item, the names of the layers it reads
            (functional models: Keras's "Connected to" column).
        total (int): number of parameters.
        trainable (int): number of trainable parameters.
        bytes_per_param (int): 4 for float32 weights.
    """
    connected = bool(rows) and len(rows[0]) == 4
    header = ("Layer (type)", "Output Shape", "Param #") + \
        (("Connected to",) if connected else ())
    cells = [(row[0], row[1], row[2] if isinstance(row[2], str) else f"{row[2]:,}") +
             tuple(row[3:]) for row in rows]
    widths = [max([len(header[i])] + [len(c[i]) for c in cells] + [w])
              for i, w in enumerate((31, 22, 13, 20)[:len(header)])]
    lines = [f'Model: "{model_name}"',
             _rule(widths, "┏", "━", "┳", "┓"),
             _row(header, widths, "┃", "┃", "┃"),
             _rule(widths, "┡", "━", "╇", "┩")]
    for i, row in enumerate(cells):
        lines.append(_row(row, widths, "│", "│", "│"))
        if i < len(cells) - 1:
            lines.append(_rule(widths, "├", "─", "┼", "┤"))
    lines.append(_rule(widths, "└", "─", "┴", "┘"))
    non_trainable = total - trainable
    for label, count in (("Total", total), ("Trainable", trainable),
                         ("Non-trainable", non_trainable)):
        lines.append(f" {label} params: {count:,} ({readable_size(count * bytes_per_param)})")
    return lines
