"""The work around a deal: the people on it (contacts), typed notes, tasks (the next steps), the agenda,
support tickets, the support report and the timeline of everything that happened to a deal or a
customer."""
