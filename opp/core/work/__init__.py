"""The work around a deal: tasks (the next steps), the agenda, support tickets, the support report and
the timeline of everything that happened to a deal or a customer."""
