#!/usr/bin/python3
"""Generates src/api/kinds/*_v*.cc (the built-in kind schemas) from Kubernetes' Go API types.

Facts taken from the published k8s.io/api and k8s.io/apimachinery types.go files of one release
(field names, Go types, protobuf field numbers, patch strategies and merge keys, optional markers,
enum constants). Descriptions are ours: descriptions.py, never Kubernetes' comment text. Which
kinds and types are emitted, and their resource facts: kinds_config.py.

Usage: generate.py K8S_API_DIR APIMACHINERY_META_V1_DIR OUT_DIR
  K8S_API_DIR holds <group>/<version>/types.go and generated.proto; for release 1.32:
    for d in core/v1 apps/v1 batch/v1 coordination/v1 events/v1 autoscaling/v1 autoscaling/v2 \
             authentication/v1 authorization/v1 rbac/v1 networking/v1 discovery/v1 storage/v1 \
             policy/v1 scheduling/v1; do mkdir -p api/$d; git -C kubernetes-api show v0.32.9:$d/types.go \
             > api/$d/types.go; git -C kubernetes-api show v0.32.9:$d/generated.proto \
             > api/$d/generated.proto; done
  and the same for apimachinery's pkg/apis/meta/v1 into APIMACHINERY_META_V1_DIR.
Where a generated.proto sits beside a types.go, every emitted protobuf number is checked
against it (the .proto files are what protobuf clients use) and a mismatch aborts.
"""
import json
import os
import re
import sys

sys.dont_write_bytecode = True  # keep the source tree clean

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import descriptions  # noqa: E402
import kinds_config  # noqa: E402

IMPORT_PATHS = {
    'k8s.io/api/core/v1': 'core/v1',
    'k8s.io/apimachinery/pkg/apis/meta/v1': 'meta/v1',
}

# Go types that map onto a primitive of the schema language.
SPECIAL = {
    'string': 'string', 'bool': 'bool', 'int32': 'int32', 'int64': 'int64', 'int': 'int64',
    'float64': 'double', '[]byte': 'bytes',
    'resource.Quantity': 'quantity', 'intstr.IntOrString': 'intorstring',
    'metav1.Time': 'time', 'metav1.MicroTime': 'microtime', 'Time': 'time', 'MicroTime': 'microtime',
    'runtime.RawExtension': 'any', 'metav1.FieldsV1': 'any', 'FieldsV1': 'any',
    'types.UID': 'string', 'metav1.Duration': 'string', 'Duration': 'string',
}

FIELD_RE = re.compile(r'^\s+(\w+)?\s*([^`\s][^`]*?)?\s*`([^`]*)`')


class GoType:
    def __init__(self, pkg, name):
        self.pkg = pkg
        self.name = name
        self.fields = []      # dicts
        self.alias = None     # underlying Go type for non-struct types
        self.enum = False
        self.consts = []


def parse_tags(tagstr):
    return dict(re.findall(r'(\w+):"([^"]*)"', tagstr))


def parse_file(pkg, path):
    types = {}
    imports = {}
    lines = open(path).read().split('\n')
    in_import = False
    for ln in lines:
        if ln.startswith('import ('):
            in_import = True
            continue
        if in_import:
            if ln.startswith(')'):
                in_import = False
                continue
            m = re.match(r'\s*(\w+)?\s*"([^"]+)"', ln)
            if m:
                alias = m.group(1) or m.group(2).split('/')[-1]
                imports[alias] = IMPORT_PATHS.get(m.group(2), m.group(2))
    i = 0
    comments = []
    in_const = False
    while i < len(lines):
        ln = lines[i]
        s = ln.strip()
        if s.startswith('//'):
            comments.append(s)
            i += 1
            continue
        if ln.startswith('const ('):
            in_const = True
            i += 1
            continue
        if in_const:
            if ln.startswith(')'):
                in_const = False
            else:
                m = re.match(r'\s*(\w+)\s+(\w+)\s*=\s*"([^"]*)"', ln)
                if m:
                    types.setdefault(('const', m.group(2)), []).append(m.group(3))
            comments = []
            i += 1
            continue
        m = re.match(r'^const (\w+)\s+(\w+)\s*=\s*"([^"]*)"', ln)
        if m:
            types.setdefault(('const', m.group(2)), []).append(m.group(3))
        m = re.match(r'^type (\w+) struct \{', ln)
        if m:
            t = GoType(pkg, m.group(1))
            t.comments = comments
            comments = []
            i += 1
            fc = []
            depth = 1
            while depth > 0:
                fl = lines[i]
                fs = fl.strip()
                i += 1
                if fs == '}':
                    depth -= 1
                    continue
                if fs.startswith('//'):
                    fc.append(fs)
                    continue
                if fs.startswith('/*'):
                    while '*/' not in lines[i - 1]:
                        i += 1
                    continue
                if not fs:
                    fc = []
                    continue
                fm = re.match(r'^(\w+)\s+([^`]+?)\s*`([^`]*)`', fs)
                em = re.match(r'^([\w.*]+)\s*`([^`]*)`', fs)
                if fm:
                    name, gotype, tags = fm.group(1), fm.group(2), parse_tags(fm.group(3))
                elif em:
                    name, gotype, tags = None, em.group(1), parse_tags(em.group(2))
                else:
                    raise SystemExit(f'{path}: cannot parse field line: {fs}')
                t.fields.append({'name': name, 'gotype': gotype, 'tags': tags, 'comments': fc})
                fc = []
            types[t.name] = t
            continue
        m = re.match(r'^type (\w+) (\S.*)$', ln)
        if m and not m.group(2).startswith('struct') and not m.group(2).startswith('interface'):
            t = GoType(pkg, m.group(1))
            t.alias = m.group(2).split('//')[0].strip()
            t.enum = any(c.startswith('// +enum') for c in comments)
            types[t.name] = t
        comments = []
        i += 1
    return types, imports


def omits_zero(schema_type):
    """Whether Go's omitempty drops this type's zero value: scalars, slices and maps do; structs
    (including Time, Quantity and IntOrString) never do."""
    return (schema_type in ('string', 'bool', 'int32', 'int64', 'double', 'bytes') or
            schema_type.startswith('[]') or schema_type.startswith('map['))


class Generator:
    def __init__(self, api_dir, meta_dir):
        self.pkgs = {}
        self.imports = {}
        for pkg in kinds_config.PACKAGES:
            path = os.path.join(meta_dir if pkg == 'meta/v1' else os.path.join(api_dir, pkg),
                                'types.go')
            types, imports = parse_file(pkg, path)
            self.pkgs[pkg] = types
            self.imports[pkg] = imports
        self.used = {pkg: [] for pkg in self.pkgs}  # emitted type names per package, in order
        self.short_count = {}

    def lookup(self, pkg, gotype):
        """Returns (pkg, GoType) for a (possibly qualified) Go type name."""
        if '.' in gotype:
            alias, name = gotype.split('.', 1)
            pkg = self.imports[pkg].get(alias, alias)
        else:
            name = gotype
        t = self.pkgs.get(pkg, {}).get(name)
        return pkg, name, t

    def schema_type(self, pkg, gotype, need):
        gotype = gotype.lstrip('*')
        if gotype in SPECIAL:
            return SPECIAL[gotype]
        if gotype.startswith('[]'):
            return '[]' + self.schema_type(pkg, gotype[2:], need)
        if gotype.startswith('map['):
            val = gotype[gotype.index(']') + 1:]
            return 'map[string]' + self.schema_type(pkg, val, need)
        tpkg, name, t = self.lookup(pkg, gotype)
        if t is None:
            raise SystemExit(f'unknown Go type {gotype} in {pkg}')
        if t.alias is not None:
            if t.alias in ('string', 'int32', 'int64', 'bool', 'float64'):
                return SPECIAL[t.alias]
            return self.schema_type(tpkg, t.alias, need)
        need.append((tpkg, name))
        return f'@{tpkg}:{name}@'  # spelled later, once all names are known

    def enum_values(self, pkg, gotype):
        gotype = gotype.lstrip('*')
        if gotype.startswith('[]') or gotype.startswith('map['):
            return None
        tpkg, name, t = self.lookup(pkg, gotype)
        if t is None or t.alias is None or not t.enum:
            return None
        vals = self.pkgs[tpkg].get(('const', name))
        return sorted(set(vals)) if vals else None

    def fields_of(self, pkg, t, need, prefix_tag=None):
        out = []
        for f in t.fields:
            tags = f['tags']
            js = tags.get('json', '')
            jname = js.split(',')[0]
            if jname == '-':
                continue
            proto = tags.get('protobuf', '')
            ptag = None
            if proto:
                parts = proto.split(',')
                ptag = int(parts[1])
            if f['name'] is None and jname == '':
                # Embedded struct: flattened in JSON.
                if f['gotype'] in ('metav1.TypeMeta', 'TypeMeta'):
                    out.append({'name': 'apiVersion', 'type': 'string', 'tag': '-',
                                'opts': [], 'owner': t.name})
                    out.append({'name': 'kind', 'type': 'string', 'tag': '-',
                                'opts': [], 'owner': t.name})
                    continue
                ipkg, iname, it = self.lookup(pkg, f['gotype'].lstrip('*'))
                if prefix_tag is not None:
                    raise SystemExit(f'nested inline in {t.name}')
                out.extend(self.fields_of(ipkg, it, need, prefix_tag=ptag))
                continue
            typ = self.schema_type(pkg, f['gotype'], need)
            opts = []
            ps = tags.get('patchStrategy', '')
            mk = tags.get('patchMergeKey', '')
            if mk:
                opts.append('merge=' + mk)
                if ps and ps != 'merge':
                    opts.append('strategy=' + ps)
            elif ps:
                opts.append('strategy=' + ps)
            optional = 'omitempty' in js or any(c.startswith('// +optional') for c in f['comments'])
            if 'omitempty' in js and not f['gotype'].startswith('*') and omits_zero(typ):
                opts.append('omitempty')
            if not optional:
                opts.append('required')  # dropped again in run() where Kubernetes does not insist
            for c in f['comments']:
                m = re.match(r'// \+default=(.*)$', c)
                if m and not m.group(1).startswith('ref('):
                    opts.append('default=' + m.group(1))
            ev = self.enum_values(pkg, f['gotype'])
            if ev:
                # A non-pointer Go string cannot tell "" from unset: Kubernetes accepts "" there
                # (then defaults it or lets it mean "any"), so the empty value is allowed too.
                if optional and not f['gotype'].startswith('*') and '' not in ev:
                    ev = ev + ['']
                opts.append('enum=' + '|'.join(ev))
            if ptag is None:
                tag = '-'
            elif prefix_tag is not None:
                tag = f'{prefix_tag}.{ptag}'
            else:
                tag = str(ptag)
            out.append({'name': jname, 'type': typ, 'tag': tag, 'opts': opts,
                        'owner': t.name})
        return out

    def run(self, out_dir):
        # Transitive closure from the roots.
        queue = [(pkg, name) for pkg, name in kinds_config.ROOTS]
        seen = set()
        emitted = {}
        while queue:
            pkg, name = queue.pop(0)
            if (pkg, name) in seen:
                continue
            seen.add((pkg, name))
            t = self.pkgs[pkg][name]
            need = []
            fields = self.fields_of(pkg, t, need)
            emitted[(pkg, name)] = fields
            self.used[pkg].append(name)
            queue.extend(need)
        for pkg, name in seen:
            self.short_count[name] = self.short_count.get(name, 0) + 1
        # Types reachable from a kind without passing through a `status` field; the others are
        # written by controllers only. Their "required" fields are Go zero values (0, false,
        # "") that Kubernetes never checks, so they stay optional here.
        spec_side = set()
        walk = [(pkg, name) for pkg, name in kinds_config.ROOTS]
        while walk:
            key = walk.pop()
            if key in spec_side:
                continue
            spec_side.add(key)
            for f in emitted[key]:
                if f['name'] == 'status':
                    continue
                for m in re.finditer(r'@([^:@]+):(\w+)@', f['type']):
                    walk.append((m.group(1), m.group(2)))
        for key, fields in emitted.items():
            for f in fields:
                if 'required' not in f['opts']:
                    continue
                if key not in spec_side or f'{key[1]}.{f["name"]}' in kinds_config.NOT_REQUIRED:
                    f['opts'].remove('required')

        missing = []
        for pkg in kinds_config.PACKAGES:
            stem = pkg.replace('/', '_')
            openapi_pkg = kinds_config.OPENAPI_PACKAGES[pkg]
            body = [f'package {openapi_pkg}', '']
            for name in sorted(self.used[pkg]):
                desc = descriptions.TYPES.get(name, '')
                opts = ' open' if name in kinds_config.OPEN_TYPES else ''
                body.append(f'type {name}{opts}' + (f' {json.dumps(desc)}' if desc else ''))
                if desc == '':
                    missing.append(f'type {name}')
                for f in emitted[(pkg, name)]:
                    typ = self.spell(pkg, f['type'])
                    d = descriptions.field(name, f['name'])
                    if d is None:
                        missing.append(f'{name}.{f["name"]}')
                        d = ''
                    line = f'  {f["name"]} {typ} {f["tag"]}'
                    if f['opts']:
                        line += ' ' + ' '.join(f['opts'])
                    if d:
                        line += ' ' + json.dumps(d)
                    body.append(line)
                body.append('')
            body.extend(kinds_config.KIND_LINES.get(pkg, []))
            text = '\n'.join(body).rstrip() + '\n'
            fn = kinds_config.FUNCS[pkg]
            with open(os.path.join(out_dir, stem + '.cc'), 'w') as f:
                f.write(HEADER.format(pkg=pkg, fn=fn, text=text))
        return missing

    def spell(self, pkg, typ):
        def one(m):
            tpkg, name = m.group(1), m.group(2)
            if tpkg == pkg or self.short_count.get(name, 0) == 1:
                return name
            return kinds_config.OPENAPI_PACKAGES[tpkg] + '.' + name
        return re.sub(r'@([^:@]+):(\w+)@', one, typ)


HEADER = '''// Built-in schema text for {pkg}. GENERATED by src/api/kinds/generate.py from the field
// facts of Kubernetes' published API types (names, protobuf numbers, patch keys); the
// descriptions are our own (descriptions.py). Edit the generator, not this file.
#include "api/kinds/kinds.h"

namespace sampan::api::kinds {{

const char* {fn}() {{
  return R"schema(
{text})schema";
}}

}}  // namespace sampan::api::kinds
'''


def proto_numbers(path):
    """message name -> {field name: number} from a generated.proto."""
    out = {}
    cur = None
    for ln in open(path):
        m = re.match(r'^message (\w+) \{', ln)
        if m:
            cur = out.setdefault(m.group(1), {})
            continue
        if ln.startswith('}'):
            cur = None
            continue
        m = re.match(r'^\s+(?:optional|repeated|map<[^>]+>)?\s*[\w.<>, ]*?\s(\w+) = (\d+);', ln)
        if cur is not None and m:
            cur[m.group(1)] = int(m.group(2))
    return out


# Fields whose name in generated.proto is not their JSON name (go-to-protobuf lower-cases only
# the first letter of the Go name: APIGroup becomes aPIGroup).
PROTO_FIELD_NAMES = {
    ('IngressClassParametersReference', 'apiGroup'): 'aPIGroup',
    ('BoundObjectReference', 'uid'): 'uID',
}


def check_tags(out_dir, api_dir, meta_dir):
    bad = []
    for pkg in kinds_config.PACKAGES:
        proto_path = os.path.join(meta_dir if pkg == 'meta/v1' else os.path.join(api_dir, pkg),
                                  'generated.proto')
        if not os.path.exists(proto_path):
            continue
        proto = proto_numbers(proto_path)
        t = None
        for ln in open(os.path.join(out_dir, pkg.replace('/', '_') + '.cc')):
            m = re.match(r'^type (\w+)', ln)
            if m:
                t = m.group(1)
                continue
            m = re.match(r'^  (\S+) \S+ (\d+)\s', ln)  # direct tags; inline ones are nested
            if m and t:
                want = proto.get(t, {}).get(PROTO_FIELD_NAMES.get((t, m.group(1)), m.group(1)))
                if want != int(m.group(2)):
                    bad.append(f'{pkg} {t}.{m.group(1)}: {m.group(2)} vs proto {want}')
    return bad


def main():
    gen = Generator(sys.argv[1], sys.argv[2])
    missing = gen.run(sys.argv[3])
    bad = check_tags(sys.argv[3], sys.argv[1], sys.argv[2])
    if bad:
        raise SystemExit('protobuf numbers differ from generated.proto:\n' + '\n'.join(bad))
    if missing:
        with open('/tmp/kinds_missing.txt', 'w') as f:
            f.write('\n'.join(missing) + '\n')
        print(f'{len(missing)} descriptions missing (see /tmp/kinds_missing.txt)', file=sys.stderr)


if __name__ == '__main__':
    main()
