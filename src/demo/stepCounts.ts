/** The demo's default total steps `N`, with and without --quick (no imports: the CLI's help shows them). */
export const DEFAULT_STEPS = 300
export const QUICK_STEPS = 16
