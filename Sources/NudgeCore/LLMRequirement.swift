import Foundation

/// The refusal of an LLM feature while no model is configured.
package enum LLMRequirement {
    package static func error(_ param: String) -> NudgeError {
        .validation(
            param,
            "\(param) needs an LLM: set NUDGE_LLM_URL (an OpenAI-compatible endpoint), NUDGE_LLM_MODEL and, if it needs one, NUDGE_LLM_API_KEY, then restart Nudge."
        )
    }
}
