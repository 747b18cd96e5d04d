#!/usr/bin/env escript
%% Erlang/OTP megaco as an independent H.248 decoder for the tests (see h248_erlang.py).
%%
%%   summary          stdin: one hex message per line -> one summary line per message
%%   encode FORMAT    stdin: hex text messages -> decode, re-encode with FORMAT
%%                    (pretty | compact | ber), print hex (or "error ...")
%%
%% Text is decoded with the non-flex configuration [] (the flex scanner driver is not
%% needed); both text decoders must accept a message and agree, else the line says why.
%% A summary is: version mid, then per transaction " | kind id", per action " / C=ctx",
%% per command " + Name=tid&tid" with {details} of media, events and errors.

-mode(compile).

main(["summary"]) -> each(fun summary/1);
main(["encode", Format]) -> each(fun(Bin) -> encode(Format, Bin) end);
main(_) -> io:format(standard_error, "usage: summary | encode pretty|compact|ber~n", []), halt(2).

each(F) ->
    case io:get_line("") of
        eof -> ok;
        Line ->
            Hex = string:trim(Line),
            Out = try F(binary:decode_hex(list_to_binary(Hex)))
                  catch C:R -> "error " ++ oneline(io_lib:format("~p:~p", [C, R]))
                  end,
            io:format("~ts~n", [Out]),
            each(F)
    end.

oneline(S) -> [case C of $\n -> $\s; _ -> C end || C <- lists:flatten(S)].

decode(Bin) ->
    P = megaco_pretty_text_encoder:decode_message([], dynamic, Bin),
    C = megaco_compact_text_encoder:decode_message([], dynamic, Bin),
    case {P, C} of
        {{ok, M}, {ok, M}} -> {ok, M};
        {{ok, _}, {ok, _}} -> {error, decoders_disagree};
        {{error, E}, _} -> {error, {pretty, E}};
        {_, {error, E}} -> {error, {compact, E}}
    end.

summary(Bin) ->
    case decode(Bin) of
        {ok, M} -> msg(M);
        {error, E} -> "error " ++ oneline(io_lib:format("~p", [E]))
    end.

encode(Format, Bin) ->
    {ok, M} = decode(Bin),
    {'MegacoMessage', _, {'Message', V, _, _}} = M,
    Mod = case Format of
              "pretty" -> megaco_pretty_text_encoder;
              "compact" -> megaco_compact_text_encoder;
              "ber" -> megaco_ber_encoder
          end,
    case Mod:encode_message([], V, M) of
        {ok, Out} -> binary:encode_hex(iolist_to_binary(Out));
        {error, E} -> "error " ++ oneline(io_lib:format("~p", [E]))
    end.

j(Sep, L) -> lists:flatten(lists:join(Sep, L)).
s(X) when is_integer(X) -> integer_to_list(X);
s(X) when is_atom(X) -> atom_to_list(X);
s(X) -> X.
low(X) -> string:lowercase(lists:flatten(s(X))).

msg({'MegacoMessage', _Auth, {'Message', V, Mid, Body}}) ->
    s(V) ++ " " ++ mid(Mid) ++ body(Body).

mid({ip4Address, {'IP4Address', A, P}}) -> "[" ++ j(".", [s(X) || X <- A]) ++ "]" ++ port(P);
mid({ip6Address, {'IP6Address', A, P}}) -> "[v6:" ++ j(".", [s(X) || X <- A]) ++ "]" ++ port(P);
mid({domainName, {'DomainName', N, P}}) -> "<" ++ low(N) ++ ">" ++ port(P);
mid({deviceName, N}) -> low(N);
mid({mtpAddress, A}) -> "mtp:" ++ low(binary_to_list(binary:encode_hex(iolist_to_binary(A)))).
port(asn1_NOVALUE) -> "";
port(P) -> ":" ++ s(P).

body({messageError, E}) -> " | error " ++ err(E);
body({transactions, Ts}) -> lists:flatten([" | " ++ trans(T) || T <- Ts]).

trans({transactionRequest, R}) ->
    "req " ++ s(element(2, R)) ++ lists:flatten([" / " ++ areq(A) || A <- element(3, R)]);
trans({transactionPending, P}) -> "pend " ++ s(element(2, P));
trans({transactionReply, R}) ->
    Id = s(element(2, R)),
    case element(4, R) of
        {transactionError, E} -> "rep " ++ Id ++ " error " ++ err(E);
        {actionReplies, As} -> "rep " ++ Id ++ lists:flatten([" / " ++ arep(A) || A <- As])
    end;
trans({transactionResponseAck, Acks}) ->
    "ack " ++ j(",", [ack(A) || A <- Acks]).

ack({'TransactionAck', F, asn1_NOVALUE}) -> s(F);
ack({'TransactionAck', F, L}) -> s(F) ++ "-" ++ s(L).

err({'ErrorDescriptor', Code, _Text}) -> s(Code).

areq(A) ->
    "C=" ++ s(element(2, A)) ++ lists:flatten([" + " ++ creq(element(2, C)) || C <- element(5, A)]).

arep(A) ->
    Cmds = case element(5, A) of asn1_NOVALUE -> []; L -> L end,
    E = case element(3, A) of asn1_NOVALUE -> ""; Ed -> " error " ++ err(Ed) end,
    "C=" ++ s(element(2, A)) ++ lists:flatten([" + " ++ crep(C) || C <- Cmds]) ++ E.

name(addReq) -> "Add"; name(moveReq) -> "Move"; name(modReq) -> "Modify";
name(subtractReq) -> "Subtract"; name(auditCapRequest) -> "AuditCapability";
name(auditValueRequest) -> "AuditValue"; name(notifyReq) -> "Notify";
name(serviceChangeReq) -> "ServiceChange";
name(addReply) -> "Add"; name(moveReply) -> "Move"; name(modReply) -> "Modify";
name(subtractReply) -> "Subtract"; name(auditCapReply) -> "AuditCapability";
name(auditValueReply) -> "AuditValue"; name(notifyReply) -> "Notify";
name(serviceChangeReply) -> "ServiceChange".

tids(L) when is_list(L) -> j("&", [tid(T) || T <- L]);
tids(T) -> tid(T).
tid({megaco_term_id, _Wild, Levels}) -> low(j("/", [lists:flatten(X) || X <- Levels])).

creq({Tag, R}) when Tag =:= addReq; Tag =:= moveReq; Tag =:= modReq ->
    name(Tag) ++ "=" ++ tids(element(2, R)) ++ details(element(3, R));
creq({notifyReq, R}) ->
    "Notify=" ++ tids(element(2, R)) ++ details([{observedEventsDescriptor, element(3, R)}]);
creq({Tag, R}) -> name(Tag) ++ "=" ++ tids(element(2, R)).

crep({Tag, R}) when Tag =:= addReply; Tag =:= moveReply; Tag =:= modReply;
                    Tag =:= subtractReply ->
    Audit = case element(3, R) of asn1_NOVALUE -> []; L -> L end,
    name(Tag) ++ "=" ++ tids(element(2, R)) ++ details(Audit);
crep({notifyReply, R}) ->
    "Notify=" ++ tids(element(2, R)) ++ opt_err(element(3, R));
crep({serviceChangeReply, R}) -> "ServiceChange=" ++ tids(element(2, R));
crep({Tag, {contextAuditResult, L}}) -> name(Tag) ++ "=Context:" ++ tids(L);
crep({Tag, {error, E}}) -> name(Tag) ++ "=Context{error " ++ err(E) ++ "}";
crep({Tag, {auditResult, R}}) -> name(Tag) ++ "=" ++ tids(element(2, R));
crep({Tag, {auditResultTermList, R}}) -> name(Tag) ++ "=" ++ tids(element(2, R));
crep({Tag, R}) when is_tuple(R), element(1, R) =:= 'AuditResult' ->
    name(Tag) ++ "=" ++ tids(element(2, R)).

opt_err(asn1_NOVALUE) -> "";
opt_err(E) -> "{error " ++ err(E) ++ "}".

%% Media (per stream: Local/Remote SDP group counts, LocalControl), Events, ObservedEvents,
%% Error: what the Mp profile reads.
details(Ds) ->
    Parts = lists:append([detail(D) || D <- Ds]),
    case Parts of [] -> ""; _ -> "{" ++ j(";", Parts) ++ "}" end.

detail({mediaDescriptor, MD}) ->
    case element(3, MD) of
        {oneStream, P} -> ["s-" ++ sparms(P)];
        {multiStream, Ss} -> ["s" ++ s(element(2, S)) ++ sparms(element(3, S)) || S <- Ss];
        _ -> []
    end;
detail({eventsDescriptor, {'EventsDescriptor', Rid, Evs}}) ->
    ["E" ++ s(Rid) ++ ":" ++ j(",", [low(element(2, E)) || E <- Evs])];
detail({observedEventsDescriptor, {'ObservedEventsDescriptor', Rid, Evs}}) ->
    ["OE" ++ s(Rid) ++ ":" ++ j(",", [oev(E) || E <- Evs])];
detail({errorDescriptor, E}) -> ["error " ++ err(E)];
detail(_) -> [].

oev(E) ->
    Ps = [low(element(2, P)) ++ "=" ++ low(j("&", element(3, P))) || P <- element(4, E)],
    low(element(2, E)) ++ case Ps of [] -> ""; _ -> "(" ++ j(",", Ps) ++ ")" end.

sparms(P) ->
    Lc = case element(2, P) of
             asn1_NOVALUE -> "";
             {'LocalControlDescriptor', Mode, _Rv, _Rg, Props} ->
                 M = case Mode of asn1_NOVALUE -> []; _ -> ["mo=" ++ low(Mode)] end,
                 ":O[" ++ j(",", M ++ lists:sort([prop(X) || X <- Props])) ++ "]"
         end,
    Lc ++ groups(":L", element(3, P)) ++ groups(":R", element(4, P)).

prop(P) -> low(element(2, P)) ++ "=" ++ low(j("&", element(3, P))).

groups(_, asn1_NOVALUE) -> "";
groups(Tag, {'LocalRemoteDescriptor', Gs}) -> Tag ++ s(length(Gs));
groups(Tag, D) when is_tuple(D) -> Tag ++ s(length(element(2, D))).
