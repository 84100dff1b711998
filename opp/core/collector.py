"""How often Python's cycle collector runs in opp, one number for the command line and the import.

A command is a short process whose imports (SQLAlchemy's, Jinja2's, opp's) make hundreds of thousands
of long-lived objects and free almost none; an import keeps a batch's rows alive until the batch is
written. At Python's default pace (a pass over the youngest objects every 700 allocations) the
collector walks them again and again for cycles it never finds: about 25 ms of every database
command's start, some 5 % of a million-row import. A pass a seventieth as often still collects what a
long import or a browse session leaves behind. And at the end of a command, what it made is frozen
(``gc.freeze``, in :func:`opp.cli.main.run`): the last pass Python makes on its way out, over every
object still alive, finds nothing to free either and took a tenth of a second of a large report.
"""

#: Allocations between two passes of the cycle collector over the youngest objects.
COLLECTOR_THRESHOLD = 50_000
