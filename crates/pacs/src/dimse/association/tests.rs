//! An association held in step: a C-STORE over the instance limit is drained, not left on the
//! wire.

use std::net::TcpListener;
use std::time::Duration;

use dicom_ul::{ClientAssociationOptions, ServerAssociationOptions};

use super::super::{EXPLICIT_LE, MAX_PDU};
use super::*;

const CT: &str = "1.2.840.10008.5.1.4.1.1.2";

/// Found by review (2026-12-05): a C-STORE over `max_instance_bytes` was refused after its
/// first PDV and answered, but the rest of its data set stayed on the wire; the next
/// command read found data there and the retrieval failed as "data where a command was
/// due", hiding that an instance was too large. (An archive could also use it to make
/// every retrieval of a study fail the same misleading way.)
/// Fails if the rest of a refused data set is not read past before the next command.
#[test]
fn an_instance_over_the_limit_leaves_the_association_in_step() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let timeout = Duration::from_secs(20);
    // The archive: two C-STORE requests, the first of 200 000 bytes (several PDVs), the
    // second of 100; it gives back the statuses it was answered.
    let archive = std::thread::spawn(move || -> Result<(u16, u16)> {
        let inner = ClientAssociationOptions::new()
            .calling_ae_title("ARCHIVE")
            .called_ae_title("COUNTERSIGN")
            .with_presentation_context(CT, vec![EXPLICIT_LE])
            .read_timeout(timeout)
            .establish(addr)
            .map_err(ul_error)?;
        let mut assoc = Association::new(inner);
        let (pc, _) = assoc.context_for(CT)?;
        let mut statuses = Vec::new();
        for (id, bytes) in [(1u16, 200_000usize), (2, 100)] {
            assoc.send_command(
                pc,
                &super::super::command::store_rq(CT, &format!("1.2.3.{id}"), id),
            )?;
            assoc.send(pc, PDataValueType::Data, vec![0u8; bytes])?;
            let (_, rsp) = assoc.read_command()?;
            statuses.push(u16_of(&rsp, tags::STATUS)?);
        }
        assoc.release();
        Ok((statuses[0], statuses[1]))
    });
    let (stream, _) = listener.accept().unwrap();
    let inner = ServerAssociationOptions::new()
        .accept_called_ae_title()
        .ae_title("COUNTERSIGN")
        .max_pdu_length(MAX_PDU)
        .read_timeout(timeout)
        .with_abstract_syntax(CT)
        .with_transfer_syntax(EXPLICIT_LE)
        .establish(stream)
        .unwrap();
    let mut assoc = Association::new(inner);
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_instance_bytes: 1000,
        ..Limits::default()
    };
    let mut intake = Intake::default();
    while let Some((pc, cmd)) = assoc.next_command_or_release().unwrap() {
        assoc
            .take_store(pc, &cmd, dir.path(), &mut intake, &limits, &mut |_| {
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
    }
    assert_eq!(
        archive.join().unwrap().unwrap(),
        (OUT_OF_RESOURCES, SUCCESS)
    );
    assert_eq!(intake.got.files.len(), 1);
    assert!(
        matches!(
            &intake.refused_here,
            Some(PacsError::TooLarge { what, limit: 1000 }) if what == "an instance"
        ),
        "{:?}",
        intake.refused_here
    );
}
