public import Scheduler

/// The plan a running service uses, replaced on reload: the ``PlanSource`` every consumer follows.
public typealias PlanHolder = PlanSource
