#!/usr/bin/env python3
"""Rewrites a directory of Parquet shards with every `text` value repeated 4x (same columns, row groups,
compression and pyarrow writer defaults), so a benchmark can check that scan time does not grow with the
text column's size. Usage: parquet_text4x.py SRC_DIR DST_DIR"""
import os
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def main(src: str, dst: str) -> None:
    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src)):
        if not name.endswith(".parquet"):
            continue
        f = pq.ParquetFile(os.path.join(src, name))
        meta = f.metadata
        rows_per_group = meta.row_group(0).num_rows
        codec = meta.row_group(0).column(0).compression.lower()
        table = f.read()
        i = table.schema.get_field_index("text")
        text = table.column(i)
        table = table.set_column(i, "text", pc.binary_join_element_wise(text, text, text, text, ""))
        tmp = os.path.join(dst, name + ".tmp")
        pq.write_table(table, tmp, row_group_size=rows_per_group, compression=codec)
        os.replace(tmp, os.path.join(dst, name))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
