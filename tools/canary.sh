#!/usr/bin/env bash
# `make canary` (and the weekly workflow job): the book built and tested against the newest releases
# of what it teaches and is built with, resolved afresh instead of from the lock, so that a release
# that breaks a chapter is seen the week it appears. Writes _build/canary/report.md; exits non-zero
# if anything broke.
set -euo pipefail
cd "$(dirname "$0")/.."
WATCHED="tensorflow-cpu keras numpy matplotlib jupyter-book myst-nb"
PYTHON=${PYTHON:-python3}
dir=_build/canary
rm -rf "$dir" && mkdir -p "$dir"
"$PYTHON" -m venv "$dir/venv"
"$dir/venv/bin/python" -m pip install --isolated --quiet --disable-pip-version-check "$(grep -m1 '^uv==' requirements.lock | cut -d' ' -f1)"
# The direct requirements with the watched packages unpinned (keras added: TensorFlow brings it), no lock.
{
    # The newest of each, except jupyter-book: the newest 1.x (the book is a jupyter-book 1 book).
    sed -E -e '/^-c /d' -e "s#^-e \.\$#-e $PWD#" requirements.txt | \
        sed -E "s/^($(echo "$WATCHED" | tr ' ' '|'))==.*/\1/" | sed -E 's/^jupyter-book$/jupyter-book<2/'
    echo keras
    sed -e '/^-r /d' requirements-dev.txt
} > "$dir/requirements.txt"
"$dir/venv/bin/uv" pip install --quiet --python "$dir/venv/bin/python" --compile-bytecode --upgrade \
    -r "$dir/requirements.txt"
touch "$dir/venv/.installed"
status=0
make --no-print-directory -o "$dir/venv/.installed" test VENV="$dir/venv" > "$dir/test.log" 2>&1 || status=$?
{
    echo "# Canary: the book against the newest releases"
    echo
    echo "| package | locked | newest |"
    echo "|---|---|---|"
    for package in $WATCHED; do
        locked=$(grep -m1 -i "^$package==" requirements.lock | sed -E 's/^[^=]+==([^ ;]+).*/\1/')
        newest=$("$dir/venv/bin/python" -c "from importlib.metadata import version; print(version('$package'))")
        echo "| $package | $locked | $newest |"
    done
    echo
    if ((status == 0)); then echo "Everything passed."; else echo "**Broken** (make test exited $status):"; echo; echo '```'
        grep -E "^(FAILED|ERROR)|[0-9]+ (passed|failed)" "$dir/test.log" | tail -40; echo '```'; fi
} > "$dir/report.md"
cat "$dir/report.md"
exit $status
