#!/usr/bin/env python3
"""Build and run tests/consumer (a project outside the tree that uses teleport) the two ways an
outside project finds the library:

  check.py subproject SOURCE_ROOT [PARENT_BUILD] -- CXX...
      copies tests/consumer to a temporary folder, links subprojects/teleport to SOURCE_ROOT and
      builds it with Meson; teleport, a subproject there, must add no target of its own (drivers,
      examples, tests and benchmarks default off in a subproject).

  check.py installed SOURCE_ROOT [PARENT_BUILD] -- CXX...
      configures SOURCE_ROOT with a temporary --prefix (headers and teleport.pc only), installs it,
      checks `pkg-config --cflags --libs teleport`, then builds the consumer twice through
      pkg-config: a plain compiler command with those flags, and the Meson project with subproject
      fallback disabled. With PARENT_BUILD, also checks that PARENT_BUILD installs the drivers.

In both the consumer exits non-zero unless GD with teleports ends lower than GD without. The
temporary folder is removed afterwards (kept with TELEPORT_KEEP_CONSUMER=1). Exit status 0 on
success, 1 with one line "consumer check failed: ..." on stderr otherwise.
"""
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# the executables a build with the drivers installs into bindir (reproduce runs the others beside it)
DRIVERS = ['reproduce', 'rosenbrock', 'booth', 'quadratic', 'mlp_regression', 'propositions', 'runtime', 'mnist',
           'summary_table', 'teleport_demo']


class Failure(Exception):
    pass


def run(cmd, env=None, capture=False):
    print('$ ' + shlex.join(cmd), flush=True)
    try:
        result = subprocess.run(cmd, env=env, text=True, stdout=subprocess.PIPE if capture else None)
    except FileNotFoundError:
        raise Failure(f'{cmd[0]} not found (run scripts/install-deps)')
    if result.returncode != 0:
        raise Failure(f'`{shlex.join(cmd)}` exited with status {result.returncode}')
    return result.stdout


def copy_consumer(tmp):
    """tests/consumer without this script, as a project of its own."""
    project = os.path.join(tmp, 'consumer')
    os.makedirs(project)
    for name in ('meson.build', 'consumer.cpp'):
        shutil.copy(os.path.join(HERE, name), project)
    return project


def run_consumer(exe):
    print('$ ' + exe, flush=True)
    result = subprocess.run([exe])
    if result.returncode != 0:
        raise Failure(f'{exe} exited with status {result.returncode}: GD with teleports did not end lower than '
                      'without (see its output above)')


def check_subproject(source_root, tmp, env):
    project = copy_consumer(tmp)
    os.makedirs(os.path.join(project, 'subprojects'))
    os.symlink(source_root, os.path.join(project, 'subprojects', 'teleport'))
    build = os.path.join(tmp, 'build')
    run(['meson', 'setup', build, project, '--force-fallback-for=teleport', '--wrap-mode=nodownload'], env)
    targets = json.loads(run(['meson', 'introspect', '--targets', build], env, capture=True))
    own = sorted(t['name'] for t in targets if t.get('subproject') == 'teleport')
    if own:
        raise Failure('as a subproject teleport should build no target of its own, but builds: ' + ', '.join(own))
    run(['meson', 'compile', '-C', build], env)
    run_consumer(os.path.join(build, 'consumer'))


def check_installed(source_root, tmp, env, cxx):
    prefix = os.path.join(tmp, 'prefix')
    build = os.path.join(tmp, 'build-teleport')
    run(['meson', 'setup', build, source_root, '--prefix', prefix, '-Ddrivers=false', '-Dexamples=false',
         '-Dtests=false', '-Dbenchmarks=false'], env)
    run(['meson', 'install', '-C', build, '--quiet'], env)
    for header in ('teleport/teleport.hpp', 'teleport/groups/action.hpp', 'teleport/problems/rosenbrock.hpp'):
        if not os.path.isfile(os.path.join(prefix, 'include', header)):
            raise Failure(f'meson install did not install include/{header} under {prefix}')
    pc = glob.glob(os.path.join(prefix, '**', 'pkgconfig', 'teleport.pc'), recursive=True)
    if not pc:
        raise Failure(f'meson install wrote no pkgconfig/teleport.pc under {prefix}')
    env = dict(env, PKG_CONFIG_PATH=os.pathsep.join([os.path.dirname(pc[0])] +
                                                    [p for p in [env.get('PKG_CONFIG_PATH')] if p]))
    print(f'PKG_CONFIG_PATH={env["PKG_CONFIG_PATH"]}')
    flags = shlex.split(run(['pkg-config', '--cflags', '--libs', 'teleport'], env, capture=True))
    print('pkg-config --cflags --libs teleport: ' + shlex.join(flags))
    for flag in ('-I' + os.path.join(prefix, 'include'), '-DHAVE_CBLAS=1', '-fno-math-errno', '-lopenblas', '-lz'):
        if flag not in flags:
            raise Failure(f'`pkg-config --cflags --libs teleport` lacks {flag}: {shlex.join(flags)}')

    # a project without Meson: the compiler and pkg-config's flags, nothing else
    plain = os.path.join(tmp, 'plain-consumer')
    run(cxx + ['-std=c++20', '-O2', os.path.join(HERE, 'consumer.cpp'), '-o', plain] + flags, env)
    run_consumer(plain)

    # the Meson project, which must find teleport through pkg-config (no subproject to fall back to)
    project = copy_consumer(tmp)
    consumer_build = os.path.join(tmp, 'build-consumer')
    run(['meson', 'setup', consumer_build, project, '--wrap-mode=nofallback'], env)
    run(['meson', 'compile', '-C', consumer_build], env)
    run_consumer(os.path.join(consumer_build, 'consumer'))


def check_parent_installs_drivers(parent_build, env):
    """The parent build (configured with the drivers) installs every driver into bindir."""
    options = json.loads(run(['meson', 'introspect', '--buildoptions', parent_build], env, capture=True))
    values = {o['name']: o['value'] for o in options}
    if values.get('drivers') == 'false':
        print(f'{parent_build} is configured with -Ddrivers=false: the drivers install is not checked')
        return
    installed = json.loads(run(['meson', 'introspect', '--installed', parent_build], env, capture=True))
    bindir = os.path.join(values['prefix'], values['bindir'])
    names = {os.path.basename(dest) for dest in installed.values() if os.path.dirname(dest) == bindir}
    missing = [d for d in DRIVERS if d not in names]
    if missing:
        raise Failure(f'meson install of {parent_build} does not install into {bindir}: ' + ', '.join(missing))
    print(f'{parent_build} installs {len(DRIVERS)} drivers into {bindir}')


def main(argv):
    if '--' not in argv or len(argv) < 3 or argv[1] not in ('subproject', 'installed'):
        print(__doc__, file=sys.stderr)
        return 2
    cut = argv.index('--')
    mode, source_root, parent_build = argv[1], os.path.abspath(argv[2]), (argv[3:cut] or [None])[0]
    cxx = argv[cut + 1:]
    for tool in ['meson', 'ninja', 'pkg-config', cxx[0] if cxx else 'c++']:
        if shutil.which(tool) is None:
            print(f'consumer check failed: {tool} not found on PATH (run scripts/install-deps)', file=sys.stderr)
            return 1
    # the consumer builds with the compiler that built the parent
    env = dict(os.environ, CXX=shlex.join(cxx)) if cxx else dict(os.environ)
    tmp = tempfile.mkdtemp(prefix=f'teleport-consumer-{mode}-')
    try:
        if mode == 'subproject':
            check_subproject(source_root, tmp, env)
        else:
            check_installed(source_root, tmp, env, cxx or ['c++'])
            if parent_build:
                check_parent_installs_drivers(parent_build, env)
    except Failure as failure:
        print(f'consumer check failed ({mode}): {failure}', file=sys.stderr)
        return 1
    finally:
        if os.environ.get('TELEPORT_KEEP_CONSUMER') == '1':
            print(f'kept {tmp}')
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f'consumer check passed ({mode})')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
