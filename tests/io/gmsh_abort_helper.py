"""Run in a child by tests/io/test_gmsh_isolation.py: make gmsh's C++ abort, as a real file once did.

``gmsh.view.getModelData`` on a list-based view (the text annotations of gmsh's
tutorial t4.geo) throws a C++ exception that gmsh does not catch: SIGABRT.
"""


def abort_on_list_view(path: str, **options):
    import gmsh

    gmsh.initialize(readConfigFiles=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.open(path)
    gmsh.view.getModelData(gmsh.view.getTags()[0], 0)  # aborts the process
    raise AssertionError("gmsh did not abort")
