import Foundation
import Hummingbird
import NudgeCore
import NudgeSMTP
import NudgeStore
import NudgeWorkers

/// `POST /v1/sequences/{id}/preview/`: a dry run. Renders every step for a recipient and source
/// (templates, and prompts through the LLM) and computes when each would go out after delays,
/// send windows and the daily limit. Nothing is stored or sent.
package struct PreviewAPI {
    package let services: NudgeServices
    package let enrollments: EnrollmentsAPI

    package struct Body: Decodable {
        package let inbox_id: String?
        package let recipient: EnrollmentsAPI.RecipientInput?
        package let source: EnrollmentsAPI.SourceInput?
    }

    package struct PreviewStep: Encodable {
        package let step_index: Int
        package let type: String
        package let subject: String?
        package let body: String?
        package let note: String?
        package let send_at: Date
    }

    package struct Preview: Encodable {
        package let sequence_id: String
        package let version: Int
        package let recipient: String
        package let steps: [PreviewStep]
    }

    package func register(_ r: ScopedRouter) {
        r.post("/v1/sequences/:id/preview", .sequencesRead) { req, ctx in
            let id = try ctx.id("id", .seq, what: "sequence")
            let b = try await JSONCoding.decode(Body.self, from: req)
            guard let recipient = b.recipient, recipient.contact_id != nil || recipient.email != nil else {
                throw NudgeError.validation("recipient", "recipient needs contact_id or email.")
            }
            // Rendering a stored contact shows its data: that needs the scope that reads contacts.
            if recipient.contact_id != nil { try ctx.require(.contactsRead) }
            let email = try recipient.email.map { try Mailbox.require($0, "recipient.email") }
            return try JSONCoding.response(try await preview(id: id, b, recipient, email: email, ctx))
        }
    }

    package func preview(id: String, _ b: Body, _ recipient: EnrollmentsAPI.RecipientInput, email: String?, _ ctx: TenantContext) async throws
        -> Preview
    {
        let org = ctx.org
        let now = services.clock.now()
        // Read everything in one transaction that is rolled back: an unknown address would otherwise create a contact.
        let (sequence, due) = try await services.db.tenant(org, rollback: true) { conn -> (SequenceRecord, [DueStep]) in
            guard let s = try await services.sequences.get(org: org, id: id, conn) else { throw NudgeError.notFound("sequence") }
            let inboxID = b.inbox_id ?? s.sender_inbox_id
            guard let inbox = try await services.inboxes.get(org: org, id: inboxID, conn) else {
                throw NudgeError.validation("inbox_id", "No inbox \(inboxID.prefix(64)) in this organization.")
            }
            let today = ScheduleMath.localDay(now, TimeZone(identifier: inbox.timezone) ?? .gmt)
            let sentToday = try await DailyCounts.sent(org: org, inboxID: inboxID, day: today, conn, logger: services.logger)
            let (contactID, address) = try await enrollments.resolveRecipient(recipient, email: email, inboxID: inboxID, ctx, conn)
            // A token that cannot read contacts previews an address as if it were unknown.
            let contact = ctx.token.scopes.allows(.contactsRead) ? try await services.contacts.get(org: org, id: contactID, conn) : nil
            let (source, threadID) = try await enrollments.resolveSource(b.source, inboxID: inboxID, org: org, conn)
            let steps = s.emails.enumerated().map { i, step in
                DueStep(
                    org: org, enrollmentID: "preview", inboxID: inboxID, contactID: contactID, recipient: address, sequenceID: s.id,
                    stepIndex: i, stepCount: s.emails.count, step: step, nextStep: nil, dueAt: now, attempts: 0, source: source,
                    threadID: threadID, inboxAddress: inbox.address, inboxName: inbox.display_name, inboxTimezone: inbox.timezone,
                    window: inbox.send_window, dailyLimit: inbox.daily_send_limit.map { $0 - sentToday }, contactName: contact?.full_name,
                    contactFields: contact?.fields ?? [:],
                    contactTimezone: contact?.timezone, suppressed: false, renderedSubject: nil, renderedBody: nil,
                    firstAttemptAt: nil, sequenceName: s.name, deliveryStatus: nil)
            }
            return (s, steps)
        }
        var at = now
        var out: [PreviewStep] = []
        for d in due {
            at = ScheduleMath.nextOpening(atOrAfter: at.addingTimeInterval(d.step.delaySeconds), window: d.window, timeZone: d.sendingTimeZone)
            if d.step.type == .email, let left = d.dailyLimit, left <= 0,
                ScheduleMath.localDay(at, d.inboxTimeZone) == ScheduleMath.localDay(now, d.inboxTimeZone)
            {
                at = ScheduleMath.nextOpening(
                    atOrAfter: ScheduleMath.startOfNextDay(after: at, d.inboxTimeZone), window: d.window, timeZone: d.sendingTimeZone)
            }
            switch d.step.type {
            case .reminder:
                out.append(PreviewStep(step_index: d.stepIndex, type: "reminder", subject: nil, body: nil, note: d.step.note, send_at: at))
            case .email:
                let (subject, body) = try await render(d, sequenceSteps: sequence.emails)
                out.append(PreviewStep(step_index: d.stepIndex, type: "email", subject: subject, body: body, note: nil, send_at: at))
            }
        }
        return Preview(sequence_id: sequence.id, version: sequence.version, recipient: due.first?.recipient ?? "", steps: out)
    }

    package func render(_ d: DueStep, sequenceSteps: [Step]) async throws -> (String, String) {
        if d.step.prompt != nil {
            let writer = StepRendering(services: services)
            var context = try await writer.contextFor(d)
            context.sequenceSteps = sequenceSteps
            do {
                let (subject, body, _) = try await writer.write(d, context: context)
                return (subject ?? "", body)
            } catch let refused as StepRendering.RefusedOutput {
                throw APIError(.serviceUnavailable, "llm_output_refused", "The LLM's text for this step was refused: \(refused.reason)")
            } catch {
                throw APIError(.serviceUnavailable, "llm_unavailable", "The LLM could not write this step: \(error)")
            }
        }
        let message = try DispatchBatch(now: services.clock.now(), services: services, preview: true).compose(d, latest: nil).message
        return (message.subject, message.textBody)
    }

    package init(services: NudgeServices, enrollments: EnrollmentsAPI) {
        self.services = services
        self.enrollments = enrollments
    }
}
