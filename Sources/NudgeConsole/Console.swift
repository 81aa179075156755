import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NudgeCore
import NudgeHTTP
import NudgeStore

/// The operator console at `/console/`: server-rendered pages over the API (README, "Operator
/// console"). A token is exchanged once for a server-side session; pages then ask the API in
/// process with that session's token, so every scope check and organization filter is the API's.
public struct Console: Sendable {
    let sessions: ConsoleSessionStore
    let reads: ConsoleReads
    let authenticator: TokenAuthenticator
    let clock: any NudgeClock
    let dev: Bool
    let templates: Templates
    let api = InProcessAPI()
    static let sessionTTL: TimeInterval = 8 * 3600

    /// Nil (and logged) when the console folder cannot be read: the API still serves.
    public init?(
        directory: String, sessions: ConsoleSessionStore, reads: ConsoleReads, authenticator: TokenAuthenticator, clock: any NudgeClock,
        dev: Bool, logger: Logger
    ) {
        do {
            templates = try Templates(directory: directory)
        } catch {
            logger.error("console disabled: cannot read \(directory): \(error)")
            return nil
        }
        self.sessions = sessions
        self.reads = reads
        self.authenticator = authenticator
        self.clock = clock
        self.dev = dev
    }

    /// Pages dispatch their API requests through the application's responder.
    public func bind(_ responder: any HTTPResponder<AppContext>) { api.bind(responder) }

    package func register(_ router: Router<AppContext>, _ routes: RouteTable, gate: DatabaseGate<AppContext>) {
        let g = router.group("/console").add(middleware: ConsoleHeaders<AppContext>()).add(middleware: ConsoleErrors(console: self))
            .add(middleware: gate)
        for (method, path) in Self.paths { routes.add(method, path) }
        g.get("static/:file") { _, ctx in
            guard let name = ctx.parameters.get("file"), let f = templates.statics[name] else { throw NudgeError.notFound("file") }
            return Response(status: .ok, headers: [.contentType: f.type], body: .init(byteBuffer: .init(string: f.body)))
        }
        g.get("sign-in") { _, _ in Page(status: .ok, html: templates.render("sign-in", ["title": "Sign in"])).response }
        g.post("sign-in") { req, _ in try await signIn(req) }
        g.post("sign-out") { req, ctx in
            let (s, _) = try await form(req, ctx)
            try await sessions.close(s.id)
            return Page.redirect("/console/sign-in", headers: [.setCookie: Cookie.clear(dev: dev)])
        }
        registerPages(g)
        // Any other console path: a console 404 page, with the console's headers.
        g.get("**") { _, _ -> Response in throw NudgeError.notFound("page") }
    }

    /// Every console path, for the route table (405 with Allow on a wrong method).
    static let paths: [(HTTPRequest.Method, String)] = [
        (.get, "/console/static/:file"), (.get, "/console/sign-in"), (.post, "/console/sign-in"), (.post, "/console/sign-out"),
        (.get, "/console"), (.get, "/console/sequences"), (.get, "/console/sequences/:id"), (.get, "/console/enrollments"),
        (.get, "/console/enrollments/:id"), (.post, "/console/enrollments/:id/action"), (.get, "/console/threads"), (.get, "/console/threads/:id"),
        (.get, "/console/tokens"),
        (.post, "/console/tokens"), (.post, "/console/tokens/:id/revoke"), (.get, "/console/suppressions"), (.post, "/console/suppressions"),
        (.post, "/console/suppressions/:id/delete"), (.get, "/console/webhooks"), (.get, "/console/webhooks/:id"), (.get, "/console/inboxes"),
        (.get, "/console/drafts"), (.get, "/console/drafts/:id"), (.post, "/console/drafts/:id/approve"), (.post, "/console/drafts/:id/reject"),
    ]

    func signIn(_ req: Request) async throws -> Response {
        guard Form.sameOrigin(req) else { throw Refusal.crossSite }
        let fields = try await Form.parse(req)
        let secret = (fields["token"]?.first ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let token: AuthenticatedToken
        do {
            token = try await authenticator.authenticate(secret)
        } catch let e as NudgeError where e.kind == .unauthorized {
            return Page(status: .unauthorized, html: templates.render("sign-in", ["title": "Sign in", "error": "This token is not valid."]))
                .response
        }
        let (id, _) = try await sessions.open(token, ttl: Self.sessionTTL, now: clock.now())
        return Page.redirect("/console/", headers: [.setCookie: Cookie.set(id, maxAge: Int(Self.sessionTTL), dev: dev)])
    }

    /// The signed-in session of a request, with a context carrying its token for API calls.
    struct Signed {
        let id: String
        let session: ConsoleSession
        let context: AppContext
    }

    func signed(_ req: Request, _ ctx: AppContext) async throws -> Signed {
        guard let id = Cookie.value(req), let s = try await sessions.resolve(id, now: clock.now()) else { throw Refusal.signIn }
        var c = ctx
        c.token = s.token
        return Signed(id: id, session: s, context: c)
    }

    /// A state-changing form: same origin, a live session, and the session's CSRF token; its fields.
    func form(_ req: Request, _ ctx: AppContext) async throws -> (Signed, [String: [String]]) {
        guard Form.sameOrigin(req) else { throw Refusal.crossSite }
        let s = try await signed(req, ctx)
        let fields = try await Form.parse(req)
        guard Form.tokenMatches(fields["csrf"]?.first, s.session.csrf) else { throw Refusal.csrf }
        return (s, fields)
    }
}

enum Refusal: Error {
    case signIn, crossSite, csrf
}

/// Errors as console pages (the API's JSON envelope is for API clients).
struct ConsoleErrors: RouterMiddleware {
    let console: Console

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let p as Page {
            return p.response
        } catch Refusal.signIn {
            return Page.redirect("/console/sign-in")
        } catch Refusal.crossSite {
            return page(.forbidden, "Refused: this form was not sent from the console's own pages.")
        } catch Refusal.csrf {
            return page(.forbidden, "Refused: the form's CSRF token is missing or does not match your session. Reload the page and try again.")
        } catch let e as NudgeError {
            switch e.kind {
            case .notFound: return page(.notFound, "Not found.")
            case .forbidden: return page(.forbidden, e.message)
            case .unavailable: return page(.serviceUnavailable, "The service is unavailable; try again shortly.")
            case .unauthorized: return Page.redirect("/console/sign-in")
            case .tooLarge: return page(.contentTooLarge, e.message)
            default: return page(e.kind == .conflict ? .conflict : .unprocessableContent, e.message)
            }
        } catch let e as HTTPError where e.status == .notFound {
            return page(.notFound, "Not found.")
        } catch {
            context.logger.error("console error: \(String(reflecting: error))")
            return page(.internalServerError, "Something went wrong.")
        }
    }

    func page(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Page(status: status, html: console.templates.render("error", ["title": "Error \(status.code)", "message": message])).response
    }
}
