# Everyday targets. `make setup` and `make test` are the README's two commands.
PY := .venv/bin/python

.PHONY: setup test thorough zoo bench fixtures fixtures-check compat check-torch check-impl check-impl-paths report-check wheel-check matrix clean

setup:
	python3 -m venv .venv && .venv/bin/pip install -c constraints.txt -e '.[test]'

test:
	$(PY) -m ruff check . && $(PY) -m ruff format --check . && $(PY) -m pytest -n auto

format:
	$(PY) -m ruff format . && $(PY) -m ruff check --fix .

# Slow tiers, on demand (not run by CI).
thorough:
	$(PY) -m adagrad.conformance.cli check torch.optim:Adagrad --profile thorough
	$(PY) -m adagrad.conformance.cli check adagrad.impl:Adagrad --profile thorough

zoo:
	$(PY) -m pytest tests/conformance tests/adapters/test_exec_hostile.py tests/adapters/test_warm_up.py -n auto -m 'zoo_full or not zoo_full'

check-impl-paths:
	$(PY) -m pytest tests/impl/test_impl_conformance.py -n auto -m 'impl_paths or not impl_paths'

bench:
	$(PY) -m pytest benchmarks --benchmark-only -p no:xdist --benchmark-columns=min,median,max,rounds

fixtures:
	$(PY) -m adagrad.conformance.cli fixtures regen --write

fixtures-check:
	$(PY) -m adagrad.conformance.cli fixtures check

compat:
	$(PY) tools/compat.py --out docs/compatibility.md

# Render a passing and a failing HTML report, open each in headless Chromium (Debian package
# `chromium`), save screenshots to reports/screenshots/; fails on console errors or broken images.
report-check:
	$(PY) tools/report_check.py

# The built wheel in a fresh venv, used as a user would: a plain project keeps hypothesis'
# defaults, `pytest --pyargs adagrad.conformance` passes, the examples the docs name are installed.
wheel-check:
	$(PY) tools/wheel_check.py

# torch version matrix (tox.ini): both checks under torch 2.0 ... 2.14, then the torch-version table
# of docs/compatibility.md. Downloads go to .wheels/ once (about 12 GB); environments in .tox/.
matrix:
	$(PY) -m tox --version >/dev/null 2>&1 || $(PY) -m pip install 'tox>=4.11'
	$(PY) tools/matrix.py fetch
	rm -rf reports/matrix && mkdir -p reports/matrix
	$(PY) -m tox run --result-json reports/matrix/tox-result.json; status=$$?; $(PY) tools/matrix.py table; exit $$status

check-torch:
	$(PY) -m adagrad.conformance.cli check torch.optim:Adagrad

check-impl:
	$(PY) -m adagrad.conformance.cli check adagrad.impl:Adagrad

# The GPU check (issue 16), on a CUDA machine without network: the CUDA tests, the GPU
# benchmarks and `check --device cuda`, results in OUT (tools/gpu_check.py says what it does).
.PHONY: gpu-check
GPU_PYTHON ?= python3
gpu-check:
	@test -n "$(OUT)" || { echo "usage: make gpu-check OUT=dir" >&2; exit 2; }
	$(GPU_PYTHON) tools/gpu_check.py $(OUT)

clean:
	rm -rf .venv build dist *.egg-info reports .hypothesis .benchmarks
