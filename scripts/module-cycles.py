#!/usr/bin/env python3
"""Lists import cycles between the modules (files) of each crate given: module `a`
naming `crate::b…` (or `super::b…`) while `b` names `a`, or a longer loop. Paths
resolve to the most specific module file (`crate::firmware::render::X` is an edge to
`firmware::render`, not to `firmware`); test modules are ignored. Reads source text
only; prints each cycle and exits 1 when there is one. CI runs it (.ci/run)."""
import os, re, sys

def module_files(src):
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if f.endswith('.rs'):
                p = os.path.join(root, f)
                parts = os.path.relpath(p, src)[:-3].split(os.sep)
                if parts[-1] == 'mod':
                    parts = parts[:-1]
                if parts in (['lib'], ['main']):
                    parts = []
                mods['::'.join(parts)] = p
    return mods

def resolve(path, mods):
    """The most specific module named by a path like `a::b::Item`."""
    parts = path.split('::')
    for n in range(len(parts), 0, -1):
        cand = '::'.join(parts[:n])
        if cand in mods:
            return cand
    return None

def edges(mods):
    g = {m: set() for m in mods}
    for m, p in mods.items():
        text = open(p, encoding='utf-8').read()
        text = re.sub(r'(?s)#\[cfg\(test\)\]\s*mod tests\s*\{.*', '', text)
        parent = m.rsplit('::', 1)[0] if '::' in m else ''
        for line in text.splitlines():
            if line.lstrip().startswith('//'):
                continue
            refs = []
            for base, rest in re.findall(r'\b(crate|super)::((?:\w+::)*\w+)', line):
                refs.append(rest if base == 'crate' else (parent + '::' + rest if parent else rest))
            for base, grp in re.findall(r'\b(crate|super)::\{([^}]*)\}', line):
                for item in re.findall(r'[\w:]+', grp):
                    refs.append(item if base == 'crate' else (parent + '::' + item if parent else item))
            for r in refs:
                t = resolve(r, mods)
                if t is not None and t != m and t != '' and not m.startswith(t + '::') \
                        and not t.startswith(m + '::'):
                    g[m].add(t)
    return g

def cycles(g):
    out, state, stack = [], {}, []
    def visit(v):
        state[v] = 1
        stack.append(v)
        for w in sorted(g[v]):
            if state.get(w) == 1:
                out.append(stack[stack.index(w):] + [w])
            elif w not in state:
                visit(w)
        stack.pop()
        state[v] = 2
    for v in sorted(g):
        if v not in state:
            visit(v)
    return out

found = 0
for crate in sys.argv[1:]:
    for c in cycles(edges(module_files(os.path.join(crate, 'src')))):
        print(f"{crate}: " + " -> ".join(c))
        found += 1
sys.exit(1 if found else 0)
