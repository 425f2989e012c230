"""The Python peer for Benchmarks/pack.sh: webdataset.ShardWriter on the same
records, raw bytes (keep) or PIL resize + JPEG (re-encode)."""
import io
import json
import sys
import time

import webdataset as wds
from PIL import Image

manifest, out_pattern, mode = sys.argv[1], sys.argv[2], sys.argv[3]
records = [json.loads(line) for line in open(manifest)]
start = time.perf_counter()
written = 0
with wds.ShardWriter(out_pattern, maxsize=1e9, verbose=0) as sink:
    for record in records:
        path = f"{record['root']}/{record['image']}"
        data = open(path, "rb").read()
        if mode == "jpg":
            image = Image.open(io.BytesIO(data)).convert("RGB")
            image = image.resize((image.width // 2, image.height // 2), Image.BOX)
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=95)
            data, ext = buffer.getvalue(), "jpg"
        else:
            ext = "png"
        meta = {k: v for k, v in record.items() if k not in ("root", "image")}
        sink.write({"__key__": record["id"].replace("/", "-").replace(".", "-"), "json": json.dumps(meta).encode(), ext: data})
        written += len(data)
seconds = time.perf_counter() - start
print(json.dumps({"samples": len(records), "seconds": seconds, "image_bytes": written}))
