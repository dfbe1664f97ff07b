# The two commands of the Quick start: `make book` and `make test`.
# Both set up .venv first and are cheap to re-run when nothing changed.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The build and the tests run on the CPU profile unless RNNLIB_PROFILE says otherwise;
# progress bars are for people at a notebook, not for logs.
export TQDM_DISABLE ?= 1
# Kernels pick matplotlib's inline backend only when MPLBACKEND is unset; a value such as Agg
# inherited from the shell would silently drop every figure from the site.
unexport MPLBACKEND
export PYDEVD_DISABLE_FILE_VALIDATION ?= 1
# torch's OpenMP threads sleep between the labs' small parallel regions instead of spinning
export OMP_WAIT_POLICY ?= PASSIVE
# numpy's small matmuls in the chapters run faster on one BLAS thread (torch keeps its own setting)
export OPENBLAS_NUM_THREADS ?= 1
# pip on this kind of machine lists optional local mirrors; silence only that line.
PIP_FILTER := grep -v -E "^WARNING: Location 'file:.*' is ignored" || true

.PHONY: help venv book test check lint clean distclean serve bench

help:
	@echo "make book   - set up .venv and build the site into _build/html (warnings are errors)"
	@echo "make test   - set up .venv, build the book (each notebook runs once) and run every test"
	@echo "              (the tests that need no book run during the build)"
	@echo "make check  - unit and oracle tests only (no book, no notebooks): the inner loop"
	@echo "make lint   - ruff over the tree (configured in pyproject.toml)"
	@echo "make serve  - serve _build/html on http://127.0.0.1:8000"
	@echo "make bench  - run the benchmarks in benchmarks/ (prints figures)"
	@echo "make clean  - remove build outputs; make distclean also removes .venv"

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing pinned requirements into $(VENV) ..."
	@$(BIN)/python -m pip install -q --no-compile -r requirements.txt 2>&1 | $(PIP_FILTER)
	@# pip byte-compiles on one core (111 s with it, 57 s without); compileall uses them all (34 s
	@# on 2). Like pip, it skips the few files that are not Python 3 (test data in some packages).
	@$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null 2>&1 || true
	@$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | $(PIP_FILTER)
	@$(BIN)/python -c "import numpy, torch, nbgrader, jupyter_book, rnnlib" \
	  || { echo "The virtual environment is incomplete; see the pip output above."; exit 1; }
	@touch $(STAMP)

# The execution cache matches notebooks by their code cells only, so a change in rnnlib alone
# (or in book/_ext/figure_hook.py, which shapes every figure) would leave stale outputs on the
# site: when either changes, drop the cache and the parsed pages, and every notebook runs again.
RNNLIB_SOURCES := $(shell find rnnlib -name '*.py')
BOOK_RNNLIB_STAMP := _build/.rnnlib-stamp

$(BOOK_RNNLIB_STAMP): $(RNNLIB_SOURCES) book/_ext/figure_hook.py
	@if [ -d _build/.jupyter_cache ]; then echo "rnnlib or the figure hook changed: notebooks will be executed again"; fi
	@rm -rf _build/.jupyter_cache _build/.doctrees
	@mkdir -p _build && touch $@

# Each notebook of _toc.yml runs once, NB_WORKERS kernels at a time (one notebook per worker
# at a time, longest first), into jupyter-cache's execution cache that `jupyter-book build`
# then reads (execute_notebooks: cache): the build itself executes nothing. A notebook that raises stops
# here with its traceback; only the notebooks whose code changed run again.
NB_WORKERS ?= 2
# torch threads per kernel: the cores shared among the workers (two labs side by side on two
# cores, two threads each, ran 18% slower than with one thread each)
NB_THREADS ?= $(shell n=$$(( $$(nproc) / $(NB_WORKERS) )); echo $$(( n > 0 ? n : 1 )))
# every kernel says it talks over local TCP; keep the rest of the kernels' messages
KERNEL_FILTER := { grep -v "Kernel is running over TCP without encryption" || true; }
# pytest-xdist: one worker per core; a test file stays on one worker, so a module's fixtures
# (the generated course, the graded batch) are built once.
PYTEST_PARALLEL ?= -n 2 --dist loadfile

book: venv $(BOOK_RNNLIB_STAMP)
	@$(BIN)/python book/_ext/site_polish.py _build/ipython
	IPYTHONDIR=$(CURDIR)/_build/ipython RNNLIB_MAX_THREADS=$(NB_THREADS) $(BIN)/python tests/test_notebooks.py --execute --workers $(NB_WORKERS) 2>&1 | $(KERNEL_FILTER)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Site built: open _build/html/index.html (or run 'make serve')."

# The notebooks are tested through the build's executed copies (tests/test_notebooks.py),
# not executed a second time. Every run below is CPU-bound on two cores, so the work is packed
# to leave no core idle: the tests that do not read the built book run on one worker from the
# start, beside the two notebook kernels, through Sphinx's single-threaded part of the build
# and on into the tests of the built site (a page's tests on one worker, --dist loadgroup),
# which start as soon as the site is built. Their output follows the site tests' output.
BOOK_TESTS := tests/test_book.py tests/test_notebooks.py tests/test_site_browser.py \
  tests/test_student_kit.py
PYTEST_EARLY_PARALLEL ?= -n 1 --dist loadfile
PYTEST_BOOK_PARALLEL ?= -n 2 --dist loadgroup
EARLY_LOG := _build/pytest-during-build.log

test: venv lint
	@mkdir -p _build
	@echo "pytest: the tests that need no built book run during the build (their output follows)"
	@$(BIN)/python -m pytest -q $(PYTEST_EARLY_PARALLEL) tests $(addprefix --ignore=,$(BOOK_TESTS)) \
	  > $(EARLY_LOG) 2>&1 & early=$$!; \
	  trap 'kill $$early 2>/dev/null' INT TERM; \
	  book=0; $(MAKE) --no-print-directory book || book=$$?; \
	  site=0; if [ $$book = 0 ]; then \
	    echo "pytest: the tests of the built site"; \
	    $(BIN)/python -m pytest -q $(PYTEST_BOOK_PARALLEL) $(BOOK_TESTS) || site=$$?; fi; \
	  tests=0; wait $$early || tests=$$?; \
	  echo "pytest (the tests that need no built book, run during the build):"; cat $(EARLY_LOG); \
	  if [ $$book != 0 ]; then echo "make book failed (see above)"; exit $$book; fi; \
	  if [ $$site != 0 ]; then echo "the tests of the built site failed (see above)"; exit $$site; fi; \
	  if [ $$tests != 0 ]; then echo "tests failed (see above)"; exit $$tests; fi

# the inner loop: no book and no notebooks (the tests of the built site, and the assignments'
# notebooks, which test_assignments.py executes)
check: venv
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL) tests \
	  $(addprefix --ignore=,$(BOOK_TESTS) tests/test_assignments.py)

lint: venv
	$(BIN)/ruff check .

serve:
	$(BIN)/python -m http.server --directory _build/html --bind 127.0.0.1 8000

# Each benchmark gives each contender a process and an environment of its own (torch keeps its
# default OpenMP policy; numpy gets two BLAS threads), so nothing exported above applies.
bench: venv
	env -u OMP_WAIT_POLICY -u OPENBLAS_NUM_THREADS $(BIN)/python benchmarks/recurrent.py
	$(BIN)/python benchmarks/grading.py

clean:
	rm -rf _build .pytest_cache .hypothesis
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
