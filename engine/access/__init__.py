"""The life of access: assignments, group grants, joiners, movers and leavers, who has what."""
