"""Runs the official cityscapesScripts instance-level evaluation on ROOT
(gtFine/val/*/*_gtFine_instanceIds.png, results/*.txt) as its own command line does
describes, and prints its resultApMatrix and averages as JSON (NaN as null)."""
import glob
import io
import json
import math
import os
import sys
import tempfile
from contextlib import redirect_stdout

root = os.path.abspath(sys.argv[1])
os.environ["CITYSCAPES_DATASET"] = root
from cityscapesscripts.evaluation import evalInstanceLevelSemanticLabeling as ev  # noqa: E402

out = tempfile.mkdtemp()
args = ev.args
args.predictionPath = os.path.join(root, "results")
args.predictionWalk = None
args.gtInstancesFile = os.path.join(out, "gtInstances.json")
args.exportFile = os.path.join(out, "result.json")
args.JSONOutput = False
args.colorized = False
args.quiet = True
os.chdir(out)
gts = sorted(glob.glob(os.path.join(root, "gtFine", "val", "*", "*_gtFine_instanceIds.png")))
with redirect_stdout(io.StringIO()):
    preds = [ev.getPrediction(gt, args) for gt in gts]
    result = ev.evaluateImgLists(preds, gts, args)


def clean(x):
    x = float(x)
    return None if math.isnan(x) else x


matrix = [[clean(v) for v in row] for row in result["resultApMatrix"][0]]
print(json.dumps({"allAp": clean(result["averages"]["allAp"]), "allAp50": clean(result["averages"]["allAp50%"]),
                  "classes": {k: [clean(v["ap"]), clean(v["ap50%"])] for k, v in result["averages"]["classes"].items()},
                  "matrix": matrix}))
