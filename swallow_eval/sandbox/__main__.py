"""The zygote's entry point: `python -I <this file> CONFIG` (swallow_eval.execution starts it).

`python -I` puts neither this file's folder nor the harness's path on sys.path, and the zygote
must load nothing but the standard library (swallow_eval/__init__ is more), so this file loads
its own folder as the package `sandbox`.
"""

import importlib.util
import os
import sys

spec = importlib.util.spec_from_file_location("sandbox", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                      "__init__.py"))
sys.modules["sandbox"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sys.modules["sandbox"])
importlib.import_module("sandbox.zygote").main(sys.argv[1])
